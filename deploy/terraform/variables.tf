variable "name" {
  description = "Prefix of every resource name, and the Project tag Prometheus discovers targets by."
  type        = string
  default     = "pneumo"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name: 2 to 21 lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "aws_region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# --- Network

variable "vpc_cidr" {
  description = "IPv4 range of the VPC (/16 recommended; subnets are /24s)."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Two availability zones; empty picks the region's first two."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) == 2
    error_message = "Give two availability zones, or none."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone (cheaper, less available)."
  type        = bool
  default     = false
}

variable "enable_interface_endpoints" {
  description = "SSM interface endpoints, so Session Manager works without NAT."
  type        = bool
  default     = true
}

variable "flow_logs_retention_days" {
  description = "Days to keep VPC flow logs of rejected traffic (0: none)."
  type        = number
  default     = 30
}

variable "public_ingress_cidrs" {
  description = "Who may reach the public load balancer on 80/443. Narrow it to a hospital's ranges where you can."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- Public entry

variable "public_hostname" {
  description = "The host name users reach pneumo at, e.g. pneumo.example.org (point it at the lb_dns_name output)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for public_hostname, in aws_region."
  type        = string

  validation {
    condition     = startswith(var.certificate_arn, "arn:")
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "nginx_instance_type" {
  description = "EC2 type of the nginx instances."
  type        = string
  default     = "t3.small"
}

# --- The pneumo package

variable "pneumo_version" {
  description = "Version of the package: the instances install pneumo_<version>_amd64.deb."
  type        = string
  default     = "1.0.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+([~+.-][0-9A-Za-z.~+-]+)?$", var.pneumo_version))
    error_message = "pneumo_version is a Debian version such as 1.0.0 or 1.1.0~rc1."
  }
}

variable "pneumo_deb_location" {
  description = "Folder holding pneumo_<version>_amd64.deb: s3://BUCKET/PREFIX (the instance roles may read that one object) or https://HOST/PATH."
  type        = string

  validation {
    condition     = can(regex("^(s3|https)://[^/]+", var.pneumo_deb_location))
    error_message = "pneumo_deb_location starts with s3:// or https://."
  }
}

variable "pneumo_deb_sha256" {
  description = "SHA-256 of the .deb; when set, instances refuse a package that does not match."
  type        = string
  default     = ""
}

variable "ami_id" {
  description = "AMI of every instance; empty: the newest Debian 12 amd64 AMI published by Debian."
  type        = string
  default     = ""
}

# --- pneumo servers

variable "app_instance_type" {
  description = "EC2 type of the pneumo servers (CPU inference)."
  type        = string
  default     = "c7i.large"
}

variable "app_min_size" {
  description = "Fewest pneumo servers (2: one per zone)."
  type        = number
  default     = 2
}

variable "app_max_size" {
  description = "Most pneumo servers the scaling policy may start."
  type        = number
  default     = 8
}

variable "app_desired_capacity" {
  description = "pneumo servers at creation; afterwards the scaling policy decides."
  type        = number
  default     = 2
}

variable "app_cpu_target_percent" {
  description = "Average CPU the servers' scaling policy aims at."
  type        = number
  default     = 60
}

variable "serve_args" {
  description = "Extra arguments of `pneumo serve`."
  type        = string
  default     = "--max-batch 8 --max-queue 256 --max-upload-mb 25"
}

# --- Redis

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_engine_version" {
  description = "ElastiCache Redis engine version."
  type        = string
  default     = "7.1"
}

variable "redis_replicas" {
  description = "Replicas besides the primary (1 or more: automatic failover to the other zone)."
  type        = number
  default     = 1
}

# --- Training

variable "training_enabled" {
  description = "Create the training instance."
  type        = bool
  default     = true
}

variable "training_instance_type" {
  description = "EC2 type of the trainer, e.g. g5.xlarge (NVIDIA A10G) or g6.xlarge; c7i.4xlarge for CPU training."
  type        = string
  default     = "g5.xlarge"
}

variable "training_device" {
  description = "cuda (GPU; needs a pneumo package built with a CUDA LibTorch) or cpu (Debian's LibTorch is CPU-only)."
  type        = string
  default     = "cuda"
}

variable "training_volume_gb" {
  description = "Trainer's volume (data set, runs)."
  type        = number
  default     = 200
}

variable "training_data_s3_uri" {
  description = "s3://BUCKET/PREFIX of the chest_xray data set; empty to copy it onto the trainer yourself."
  type        = string
  default     = ""

  validation {
    condition     = var.training_data_s3_uri == "" || startswith(var.training_data_s3_uri, "s3://")
    error_message = "training_data_s3_uri is empty or starts with s3://."
  }
}

variable "train_args" {
  description = "Extra arguments of `pneumo train`."
  type        = string
  default     = "--arch pneumonet"
}

variable "refresh_app_on_publish" {
  description = "The trainer starts an instance refresh of the pneumo servers after publishing a model."
  type        = bool
  default     = true
}

# --- Monitoring and storage

variable "monitoring_instance_type" {
  description = "EC2 type of the Prometheus and Grafana instance."
  type        = string
  default     = "t3.medium"
}

variable "models_bucket_name" {
  description = "Name of the models bucket; empty: <name>-models-<account id>."
  type        = string
  default     = ""
}

variable "force_destroy_models_bucket" {
  description = "Let `terraform destroy` delete the models bucket with its models in it."
  type        = bool
  default     = false
}
