variable "name" {
  description = "Prefix for every name."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per zone."
  type        = list(string)
}

variable "security_group_id" {
  description = "The Redis group (6379 from the app and trainer groups only)."
  type        = string
}

variable "node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "engine_version" {
  description = "Redis engine version (7.x)."
  type        = string
}

variable "replicas" {
  description = "Read replicas besides the primary; 1 or more gives automatic failover across zones."
  type        = number

  validation {
    condition     = var.replicas >= 0 && var.replicas <= 5
    error_message = "replicas must be between 0 and 5."
  }
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots to keep."
  type        = number
}
