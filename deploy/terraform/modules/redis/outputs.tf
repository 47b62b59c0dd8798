output "primary_endpoint" {
  description = "Host name of the primary (TLS on 6379); follows failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  value = aws_elasticache_replication_group.this.port
}

output "auth_token_parameter_name" {
  value = aws_ssm_parameter.auth_token.name
}

output "auth_token_parameter_arn" {
  value = aws_ssm_parameter.auth_token.arn
}
