variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "project_tag" {
  description = "Prometheus scrapes the instances whose Project tag has this value."
  type        = string
}

variable "region" {
  type = string
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
  type = string
}

variable "volume_gb" {
  description = "Root volume (Prometheus keeps its data there)."
  type        = number
}

variable "retention" {
  description = "How long Prometheus keeps samples (e.g. 30d)."
  type        = string
}

variable "public_hostname" {
  description = "Grafana's root URL is https://PUBLIC_HOSTNAME/grafana/."
  type        = string
}

variable "bootstrap_script" {
  description = "The common bootstrap (templates/bootstrap.sh.tftpl, rendered)."
  type        = string
}
