output "lb_dns_name" {
  description = "Public load balancer: point public_hostname at it (CNAME or Route 53 alias)."
  value       = module.edge.lb_dns_name
}

output "lb_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = module.edge.lb_zone_id
}

output "url" {
  value = "https://${var.public_hostname}/"
}

output "grafana_url" {
  value = "https://${var.public_hostname}/grafana/"
}

output "prometheus_url" {
  description = "Basic auth: user prometheus, password in the SSM parameter prometheus_password_parameter."
  value       = "https://${var.public_hostname}/prometheus/"
}

output "grafana_admin_password_parameter" {
  description = "SSM SecureString with Grafana's admin password."
  value       = module.monitoring.grafana_admin_password_parameter
}

output "prometheus_password_parameter" {
  value = module.monitoring.prometheus_password_parameter_name
}

output "app_asg_name" {
  description = "Auto scaling group of the pneumo servers (scale it, refresh it)."
  value       = module.app.asg_name
}

output "nginx_asg_name" {
  value = module.edge.asg_name
}

output "models_bucket" {
  description = "The trainer publishes to s3://BUCKET/models/; servers load models/current/ at boot."
  value       = module.storage.bucket_name
}

output "redis_primary_endpoint" {
  description = "ElastiCache primary (TLS, AUTH); reachable only from the app and trainer groups."
  value       = module.redis.primary_endpoint
}

output "redis_auth_token_parameter" {
  description = "SSM SecureString holding the Redis AUTH token."
  value       = module.redis.auth_token_parameter_name
}

output "trainer_instance_id" {
  value = var.training_enabled ? module.trainer[0].instance_id : null
}

output "monitoring_instance_id" {
  value = module.monitoring.instance_id
}

output "vpc_id" {
  value = module.network.vpc_id
}

output "public_subnet_ids" {
  value = module.network.public_subnet_ids
}

output "private_subnet_ids" {
  value = module.network.private_subnet_ids
}

output "nat_public_ips" {
  description = "Addresses the private tiers reach the internet from."
  value       = module.network.nat_public_ips
}

output "train_command" {
  description = "Starts a training run on the trainer, which then publishes the model and rolls it out."
  value       = var.training_enabled ? "aws ssm send-command --region ${var.aws_region} --instance-ids ${module.trainer[0].instance_id} --document-name AWS-RunShellScript --parameters commands='systemctl start --no-block pneumo-train'" : null
}
