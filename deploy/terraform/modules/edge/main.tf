# The nginx tier: an auto scaling group across the public subnets of both zones, behind a public
# network load balancer. The load balancer terminates TLS with the ACM certificate and
# re-encrypts to nginx on 443 (nginx has a self-signed certificate; a network load balancer does
# not verify its targets'), and passes 80 through for the redirect. nginx instances accept
# traffic only from the load balancer's security group, so they cannot be reached around it.
#
# nginx proxies the application to the internal load balancer of the pneumo servers, refuses
# /metrics from outside, and puts Grafana (/grafana/, its own login) and Prometheus
# (/prometheus/, basic auth) of the private monitoring instance behind TLS.

data "aws_iam_policy_document" "nginx" {
  statement {
    sid       = "ReadPrometheusBasicAuthPassword"
    actions   = ["ssm:GetParameter"]
    resources = [var.prometheus_password_parameter_arn]
  }
}

module "role" {
  source = "../instance_role"

  name        = "${var.name}-nginx"
  policy_json = data.aws_iam_policy_document.nginx.json
}

resource "aws_lb" "public" {
  name_prefix                      = "pnweb-"
  internal                         = false
  load_balancer_type               = "network"
  subnets                          = var.public_subnet_ids
  security_groups                  = [var.nginx_lb_security_group_id]
  enable_cross_zone_load_balancing = true

  tags = { Name = "${var.name}-public" }
}

resource "aws_lb_target_group" "http" {
  name_prefix = "pnh80-"
  vpc_id      = var.vpc_id
  port        = 80
  protocol    = "TCP"
  target_type = "instance"

  health_check {
    protocol = "HTTP"
    port     = "80"
    path     = "/nginx-health"
    matcher  = "200"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group" "https" {
  name_prefix = "pn443-"
  vpc_id      = var.vpc_id
  port        = 443
  protocol    = "TLS"
  target_type = "instance"

  health_check {
    protocol = "HTTP"
    port     = "80"
    path     = "/nginx-health"
    matcher  = "200"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.public.arn
  port              = 80
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http.arn
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.public.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  alpn_policy       = "HTTP2Preferred"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.https.arn
  }
}

resource "aws_launch_template" "nginx" {
  name_prefix            = "${var.name}-nginx-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  update_default_version = true

  iam_instance_profile {
    arn = module.role.instance_profile_arn
  }

  # A public address only for egress (packages, SSM) from the public subnet; ingress is limited
  # to the load balancer's group.
  network_interfaces {
    associate_public_ip_address = true
    security_groups             = [var.nginx_security_group_id]
    delete_on_termination       = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 16
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    bootstrap                     = var.bootstrap_script
    public_hostname               = var.public_hostname
    app_upstream                  = var.app_upstream
    monitoring_host               = var.monitoring_host
    prometheus_password_parameter = var.prometheus_password_parameter_name
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-nginx", Project = var.project_tag, Role = "nginx" }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.name}-nginx", Project = var.project_tag, Role = "nginx" }
  }
}

resource "aws_autoscaling_group" "nginx" {
  name_prefix               = "${var.name}-nginx-"
  vpc_zone_identifier       = var.public_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.min_size
  target_group_arns         = [aws_lb_target_group.http.arn, aws_lb_target_group.https.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 180

  launch_template {
    id      = aws_launch_template.nginx.id
    version = aws_launch_template.nginx.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-nginx"
    propagate_at_launch = true
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "${var.name}-nginx-cpu"
  autoscaling_group_name = aws_autoscaling_group.nginx.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 60
  }
}
