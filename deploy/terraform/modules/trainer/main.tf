# The training instance: one EC2 instance in a private subnet (GPU type by variable), with a
# large encrypted volume for the data set and runs. It trains on demand: `systemctl start
# pneumo-train` (through SSM Run Command or a session) syncs the data set from S3, runs
# `pneumo train ... --metrics-port 8000 && pneumo model publish RUN --to /var/lib/pneumo/published`,
# uploads the published tree to s3://MODELS_BUCKET/models/ and starts an instance refresh of
# the pneumo servers, which pick the new model up at boot.

data "aws_partition" "current" {}

locals {
  data_is_s3  = startswith(var.training_data_s3_uri, "s3://")
  data_path   = trimsuffix(trimprefix(var.training_data_s3_uri, "s3://"), "/")
  data_bucket = local.data_is_s3 ? split("/", local.data_path)[0] : ""
  data_prefix = local.data_is_s3 ? join("/", slice(split("/", local.data_path), 1, length(split("/", local.data_path)))) : ""
}

data "aws_iam_policy_document" "trainer" {
  statement {
    sid       = "ReadRedisAuthToken"
    actions   = ["ssm:GetParameter"]
    resources = [var.redis_auth_token_parameter_arn]
  }

  statement {
    sid       = "ListModels"
    actions   = ["s3:ListBucket"]
    resources = [var.models_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["models/*"]
    }
  }

  statement {
    sid       = "PublishModels"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.models_bucket_arn}/models/*"]
  }

  dynamic "statement" {
    for_each = local.data_is_s3 ? [1] : []
    content {
      sid       = "ListTrainingData"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${data.aws_partition.current.partition}:s3:::${local.data_bucket}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.data_prefix == "" ? "*" : "${local.data_prefix}/*"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.data_is_s3 ? [1] : []
    content {
      sid       = "ReadTrainingData"
      actions   = ["s3:GetObject"]
      resources = ["arn:${data.aws_partition.current.partition}:s3:::${local.data_path}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.deb_object_arns) > 0 ? [1] : []
    content {
      sid       = "ReadPackage"
      actions   = ["s3:GetObject"]
      resources = var.deb_object_arns
    }
  }

  dynamic "statement" {
    for_each = var.refresh_app_on_publish ? [1] : []
    content {
      sid       = "RollOutNewModel"
      actions   = ["autoscaling:StartInstanceRefresh"]
      resources = [var.app_asg_arn]
    }
  }
}

module "role" {
  source = "../instance_role"

  name        = "${var.name}-trainer"
  policy_json = data.aws_iam_policy_document.trainer.json
}

resource "aws_instance" "trainer" {
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
    redis_host                 = var.redis_host
    redis_auth_token_parameter = var.redis_auth_token_parameter_name
    models_bucket              = var.models_bucket_name
    training_data_s3_uri       = var.training_data_s3_uri
    train_device               = var.train_device
    train_args                 = var.train_args
    app_asg_name               = var.refresh_app_on_publish ? var.app_asg_name : ""
    train_on_boot              = var.train_on_boot
  })

  tags = { Name = "${var.name}-trainer", Project = var.project_tag, Role = "trainer" }
}
