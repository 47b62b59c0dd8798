variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "project_tag" {
  description = "Value of the Project tag (Prometheus discovers targets by it)."
  type        = string
}

variable "subnet_id" {
  description = "A private subnet."
  type        = string
}

variable "security_group_id" {
  type = string
}

variable "ami_id" {
  type = string
}

variable "instance_type" {
  description = "EC2 type of the trainer, e.g. g5.xlarge (GPU) or c7i.4xlarge (CPU)."
  type        = string
}

variable "volume_gb" {
  description = "Root volume: system, data set and training runs."
  type        = number
}

variable "train_device" {
  description = "cpu, or cuda (installs Debian's NVIDIA driver; needs a pneumo built with a CUDA LibTorch)."
  type        = string

  validation {
    condition     = contains(["cpu", "cuda"], var.train_device)
    error_message = "train_device is cpu or cuda."
  }
}

variable "train_args" {
  description = "Extra arguments of `pneumo train`."
  type        = string
}

variable "train_on_boot" {
  description = "Start a training run as soon as the instance is set up."
  type        = bool
}

variable "training_data_s3_uri" {
  description = "s3://BUCKET/PREFIX holding chest_xray/ (NORMAL/, PNEUMONIA/ or train/...); empty: copy the data to /var/lib/pneumo/data yourself."
  type        = string
}

variable "bootstrap_script" {
  description = "The common bootstrap (templates/bootstrap.sh.tftpl, rendered)."
  type        = string
}

variable "deb_object_arns" {
  type = list(string)
}

variable "redis_host" {
  type = string
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

variable "refresh_app_on_publish" {
  description = "After publishing, start an instance refresh of the pneumo servers' group."
  type        = bool
}

variable "app_asg_name" {
  type = string
}

variable "app_asg_arn" {
  type = string
}
