variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "region" {
  description = "AWS region of the endpoints' services."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "private_route_table_ids" {
  type = list(string)
}

variable "endpoints_security_group_id" {
  description = "Group of the interface endpoints (443 from the instance tiers only)."
  type        = string
}

variable "enable_interface_endpoints" {
  description = "Create the ssm, ssmmessages and ec2messages interface endpoints (about 7 USD a month each per zone)."
  type        = bool
}
