output "nginx_lb_id" {
  value = aws_security_group.nginx_lb.id
}

output "nginx_id" {
  value = aws_security_group.nginx.id
}

output "app_lb_id" {
  value = aws_security_group.app_lb.id
}

output "app_id" {
  value = aws_security_group.app.id
}

output "redis_id" {
  value = aws_security_group.redis.id
}

output "trainer_id" {
  value = aws_security_group.trainer.id
}

output "monitoring_id" {
  value = aws_security_group.monitoring.id
}

output "endpoints_id" {
  value = aws_security_group.endpoints.id
}
