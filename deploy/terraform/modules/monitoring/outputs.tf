output "instance_id" {
  value = aws_instance.monitoring.id
}

output "private_ip" {
  value = aws_instance.monitoring.private_ip
}

output "grafana_admin_password_parameter" {
  value = aws_ssm_parameter.grafana_admin_password.name
}

output "prometheus_password_parameter_name" {
  value = aws_ssm_parameter.prometheus_password.name
}

output "prometheus_password_parameter_arn" {
  value = aws_ssm_parameter.prometheus_password.arn
}
