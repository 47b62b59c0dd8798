variable "name" {
  description = "Prefix of the role and instance profile names."
  type        = string
}

variable "policy_json" {
  description = "The tier's own IAM policy (JSON), on top of the SSM agent's."
  type        = string
}
