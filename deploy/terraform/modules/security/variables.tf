variable "name" {
  description = "Prefix for every name and Name tag."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the groups belong to."
  type        = string
}

variable "public_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the public load balancer on 80 and 443."
  type        = list(string)

  validation {
    condition     = length(var.public_ingress_cidrs) > 0 && alltrue([for c in var.public_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "public_ingress_cidrs must hold at least one IPv4 CIDR."
  }
}
