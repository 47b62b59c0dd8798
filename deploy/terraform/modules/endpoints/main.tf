# Private paths to AWS services. The S3 gateway endpoint is free and keeps package, model and
# data downloads off the NAT gateways. The interface endpoints let the SSM agent reach Systems
# Manager without the internet, so Session Manager (the only way in: there is no SSH) keeps
# working when NAT does not.

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.private_route_table_ids

  tags = { Name = "${var.name}-s3" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.enable_interface_endpoints ? toset(["ssm", "ssmmessages", "ec2messages"]) : toset([])

  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.private_subnet_ids
  security_group_ids  = [var.endpoints_security_group_id]
  private_dns_enabled = true

  tags = { Name = "${var.name}-${each.key}" }
}
