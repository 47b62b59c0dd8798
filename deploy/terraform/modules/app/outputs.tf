output "alb_dns_name" {
  description = "Internal load balancer of the pneumo servers (nginx's upstream)."
  value       = aws_lb.app.dns_name
}

output "asg_name" {
  value = aws_autoscaling_group.app.name
}

output "asg_arn" {
  value = aws_autoscaling_group.app.arn
}

output "role_name" {
  value = module.role.role_name
}
