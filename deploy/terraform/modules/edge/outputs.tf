output "lb_dns_name" {
  description = "Point public_hostname at this name (CNAME, or a Route 53 alias)."
  value       = aws_lb.public.dns_name
}

output "lb_zone_id" {
  description = "For a Route 53 alias record."
  value       = aws_lb.public.zone_id
}

output "asg_name" {
  value = aws_autoscaling_group.nginx.name
}
