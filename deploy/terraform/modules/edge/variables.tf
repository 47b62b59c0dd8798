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

variable "public_subnet_ids" {
  description = "Public subnets, one per zone."
  type        = list(string)
}

variable "nginx_lb_security_group_id" {
  type = string
}

variable "nginx_security_group_id" {
  type = string
}

variable "ami_id" {
  type = string
}

variable "instance_type" {
  type = string
}

variable "min_size" {
  description = "nginx instances at least (2: one per zone)."
  type        = number
}

variable "max_size" {
  type = number
}

variable "certificate_arn" {
  description = "ACM certificate for public_hostname, served by the load balancer."
  type        = string
}

variable "public_hostname" {
  description = "The name users reach pneumo at (a CNAME or alias to the load balancer)."
  type        = string
}

variable "app_upstream" {
  description = "Host name of the internal load balancer of the pneumo servers."
  type        = string
}

variable "monitoring_host" {
  description = "Private address of the monitoring instance (Grafana 3000, Prometheus 9090)."
  type        = string
}

variable "prometheus_password_parameter_name" {
  type = string
}

variable "prometheus_password_parameter_arn" {
  type = string
}

variable "bootstrap_script" {
  description = "The common bootstrap (templates/bootstrap.sh.tftpl, rendered)."
  type        = string
}
