# The pneumo servers: an auto scaling group in the private subnets of both zones behind an
# internal application load balancer (nginx is its only client). Instances are cattle: the
# user data installs the pneumo .deb, points it at Redis through a local TLS tunnel and the
# latest published model, and starts pneumo.service. A new model or a new package version rolls
# out through an instance refresh (new instances, health-checked on /readyz, 50% kept in service).

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ReadRedisAuthToken"
    actions   = ["ssm:GetParameter"]
    resources = [var.redis_auth_token_parameter_arn]
  }

  statement {
    sid       = "ListPublishedModel"
    actions   = ["s3:ListBucket"]
    resources = [var.models_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/current/*"]
    }
  }

  statement {
    sid       = "ReadPublishedModel"
    actions   = ["s3:GetObject"]
    resources = ["${var.models_bucket_arn}/models/current/*"]
  }

  dynamic "statement" {
    for_each = length(var.deb_object_arns) > 0 ? [1] : []
    content {
      sid       = "ReadPackage"
      actions   = ["s3:GetObject"]
      resources = var.deb_object_arns
    }
  }
}

module "role" {
  source = "../instance_role"

  name        = "${var.name}-app"
  policy_json = data.aws_iam_policy_document.app.json
}

resource "aws_lb" "app" {
  name_prefix                = "pnapp-"
  internal                   = true
  load_balancer_type         = "application"
  subnets                    = var.subnet_ids
  security_groups            = [var.app_lb_security_group_id]
  idle_timeout               = 60
  drop_invalid_header_fields = true

  tags = { Name = "${var.name}-app" }
}

resource "aws_lb_target_group" "app" {
  name_prefix                   = "pnapp-"
  vpc_id                        = var.vpc_id
  port                          = 8080
  protocol                      = "HTTP"
  target_type                   = "instance"
  deregistration_delay          = 30
  load_balancing_algorithm_type = "least_outstanding_requests"

  # /readyz is 503 while the model is loading or Redis is unreachable: such a server gets no
  # traffic, and the auto scaling group replaces it if it stays that way.
  health_check {
    path                = "/readyz"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "app" {
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

resource "aws_launch_template" "app" {
  name_prefix            = "${var.name}-app-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [var.app_security_group_id]
  update_default_version = true

  iam_instance_profile {
    arn = module.role.instance_profile_arn
  }

  # IMDSv2 only, one hop: a process in a container on the host cannot borrow the role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    bootstrap                  = var.bootstrap_script
    redis_host                 = var.redis_host
    redis_auth_token_parameter = var.redis_auth_token_parameter_name
    models_bucket              = var.models_bucket_name
    serve_args                 = var.serve_args
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-app", Project = var.project_tag, Role = "app" }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.name}-app", Project = var.project_tag, Role = "app" }
  }
}

resource "aws_autoscaling_group" "app" {
  name_prefix               = "${var.name}-app-"
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  target_group_arns         = [aws_lb_target_group.app.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  default_instance_warmup   = 120

  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }

  # A changed launch template (new package version, new user data) rolls through the group.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
      instance_warmup        = 120
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-app"
    propagate_at_launch = true
  }

  lifecycle {
    # The scaling policy owns the size between min and max; `terraform apply` must not undo it.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "cpu" {
  name                   = "${var.name}-app-cpu"
  autoscaling_group_name = aws_autoscaling_group.app.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.cpu_target_percent
  }
}
