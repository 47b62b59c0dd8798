# Prometheus and Grafana on one instance in a private subnet. Prometheus finds its targets through
# EC2 service discovery (instances tagged Project=<name>, by their Role tag) and scrapes them on
# their private addresses; the security groups let only this instance's group reach the metrics
# ports. People reach Grafana and Prometheus only through nginx (TLS; Grafana's login, basic
# auth for Prometheus) or an SSM port-forwarding session; neither port is open to any range.

data "aws_iam_policy_document" "monitoring" {
  statement {
    sid       = "Ec2ServiceDiscovery"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"]
    resources = ["*"] # Describe* actions take no resource ARN
  }

  statement {
    sid       = "ReadGrafanaAdminPassword"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.grafana_admin_password.arn]
  }
}

module "role" {
  source = "../instance_role"

  name        = "${var.name}-monitoring"
  policy_json = data.aws_iam_policy_document.monitoring.json
}

locals {
  # What Prometheus scrapes, by the Role tag of the instance. These ports are the ones the
  # security module opens to the monitoring group, and only to it.
  scrape_jobs = [
    { name = "pneumo", port = 8080, roles = "app" },             # pneumo serve /metrics
    { name = "pneumo-train", port = 8000, roles = "trainer" },   # pneumo train --metrics-port 8000
    { name = "redis", port = 9121, roles = "app" },              # redis exporter beside each server
    { name = "nginx", port = 9113, roles = "nginx" },            # nginx exporter
    { name = "node", port = 9100, roles = "app|trainer|nginx" }, # node exporter
  ]
}

resource "random_password" "grafana_admin" {
  length  = 32
  special = false
}

resource "random_password" "prometheus_basic_auth" {
  length  = 32
  special = false
}

resource "aws_ssm_parameter" "grafana_admin_password" {
  name  = "/${var.name}/grafana/admin-password"
  type  = "SecureString"
  value = random_password.grafana_admin.result
}

resource "aws_ssm_parameter" "prometheus_password" {
  name        = "/${var.name}/prometheus/basic-auth-password"
  description = "Password of user prometheus at https://HOST/prometheus/ (nginx basic auth)"
  type        = "SecureString"
  value       = random_password.prometheus_basic_auth.result
}

resource "aws_instance" "monitoring" {
  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [var.security_group_id]
  iam_instance_profile   = module.role.instance_profile_name
  monitoring             = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = var.volume_gb
    volume_type = "gp3"
    encrypted   = true
  }

  user_data_replace_on_change = true
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    bootstrap                  = var.bootstrap_script
    region                     = var.region
    project_tag                = var.project_tag
    public_hostname            = var.public_hostname
    grafana_password_parameter = aws_ssm_parameter.grafana_admin_password.name
    retention                  = var.retention
    scrape_jobs                = local.scrape_jobs
  })

  tags = { Name = "${var.name}-monitoring", Project = var.project_tag, Role = "monitoring" }
}
