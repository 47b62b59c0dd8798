variable "bucket_name" {
  description = "Name of the models bucket (globally unique)."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds models."
  type        = bool
}

variable "noncurrent_version_days" {
  description = "Days an overwritten model file is kept for rollback."
  type        = number
}
