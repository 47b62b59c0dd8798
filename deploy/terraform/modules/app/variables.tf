variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "project_tag" {
  description = "Value of the Project tag on instances (Prometheus discovers targets by it)."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  description = "Private subnets, one per zone."
  type        = list(string)
}

variable "app_security_group_id" {
  type = string
}

variable "app_lb_security_group_id" {
  type = string
}

variable "ami_id" {
  description = "Debian 12 (bookworm) amd64 AMI: the .deb is built against Debian 12's libraries."
  type        = string
}

variable "instance_type" {
  type = string
}

variable "root_volume_gb" {
  type = number
}

variable "min_size" {
  type = number
}

variable "max_size" {
  type = number
}

variable "desired_capacity" {
  type = number
}

variable "cpu_target_percent" {
  description = "Average CPU the scaling policy keeps the group at."
  type        = number
}

variable "bootstrap_script" {
  description = "The common bootstrap (templates/bootstrap.sh.tftpl, rendered)."
  type        = string
}

variable "deb_object_arns" {
  description = "S3 object ARNs of the pneumo .deb when it is fetched from S3 (empty for HTTPS)."
  type        = list(string)
}

variable "redis_host" {
  description = "ElastiCache primary endpoint (TLS)."
  type        = string
}

variable "redis_auth_token_parameter_name" {
  type = string
}

variable "redis_auth_token_parameter_arn" {
  type = string
}

variable "models_bucket_name" {
  type = string
}

variable "models_bucket_arn" {
  type = string
}

variable "serve_args" {
  description = "Extra arguments of `pneumo serve` (after --listen and --store)."
  type        = string
}
