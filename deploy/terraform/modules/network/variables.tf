variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's IPv4 range; subnets are /24s carved from it."
  type        = string
}

variable "availability_zones" {
  description = "Exactly two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "The network spans exactly two availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both zones (cheaper; a zone outage then cuts the other zone's egress)."
  type        = bool
}

variable "flow_logs_retention_days" {
  description = "Days to keep VPC flow logs of rejected traffic; 0 turns them off."
  type        = number
}
