output "instance_id" {
  value = aws_instance.trainer.id
}

output "private_ip" {
  value = aws_instance.trainer.private_ip
}
