# pneumo on AWS: see README.md in this folder for the picture, how to apply, scale, publish a new
# model and destroy.
#
#   internet ─▶ NLB (public, TLS) ─▶ nginx ASG (public subnets) ─▶ internal ALB ─▶ pneumo ASG (private)
#                                          │                                          │
#                                          └─▶ monitoring (Prometheus, Grafana)       └─▶ ElastiCache Redis (TLS, AUTH)
#   trainer (private) ─▶ s3://models ─▶ pneumo ASG (instance refresh)                   ▲ trainer

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Debian 12 (bookworm), amd64, from Debian's own AWS account: the pneumo .deb is built against
# Debian 12's libraries (LibTorch 1.13, OpenCV, DCMTK).
data "aws_ami" "debian12" {
  most_recent = true
  owners      = ["136693071363"]

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

locals {
  azs    = length(var.availability_zones) > 0 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, 2)
  ami_id = var.ami_id != "" ? var.ami_id : data.aws_ami.debian12.id

  deb_location    = trimsuffix(var.pneumo_deb_location, "/")
  deb_file        = "pneumo_${var.pneumo_version}_amd64.deb"
  deb_is_s3       = startswith(local.deb_location, "s3://")
  deb_object_arns = local.deb_is_s3 ? ["arn:${data.aws_partition.current.partition}:s3:::${trimprefix(local.deb_location, "s3://")}/${local.deb_file}"] : []

  models_bucket = var.models_bucket_name != "" ? var.models_bucket_name : "${var.name}-models-${data.aws_caller_identity.current.account_id}"

  bootstrap = templatefile("${path.module}/templates/bootstrap.sh.tftpl", {
    region              = var.aws_region
    pneumo_version      = var.pneumo_version
    pneumo_deb_location = local.deb_location
    pneumo_deb_sha256   = var.pneumo_deb_sha256
  })
}

module "network" {
  source = "./modules/network"

  name                     = var.name
  cidr_block               = var.vpc_cidr
  availability_zones       = local.azs
  single_nat_gateway       = var.single_nat_gateway
  flow_logs_retention_days = var.flow_logs_retention_days
}

module "security" {
  source = "./modules/security"

  name                 = var.name
  vpc_id               = module.network.vpc_id
  public_ingress_cidrs = var.public_ingress_cidrs
}

module "endpoints" {
  source = "./modules/endpoints"

  name                        = var.name
  region                      = var.aws_region
  vpc_id                      = module.network.vpc_id
  private_subnet_ids          = module.network.private_subnet_ids
  private_route_table_ids     = module.network.private_route_table_ids
  endpoints_security_group_id = module.security.endpoints_id
  enable_interface_endpoints  = var.enable_interface_endpoints
}

module "storage" {
  source = "./modules/storage"

  bucket_name             = local.models_bucket
  force_destroy           = var.force_destroy_models_bucket
  noncurrent_version_days = 90
}

module "redis" {
  source = "./modules/redis"

  name                    = var.name
  subnet_ids              = module.network.private_subnet_ids
  security_group_id       = module.security.redis_id
  node_type               = var.redis_node_type
  engine_version          = var.redis_engine_version
  replicas                = var.redis_replicas
  snapshot_retention_days = 7
}

module "app" {
  source = "./modules/app"

  name                            = var.name
  project_tag                     = var.name
  vpc_id                          = module.network.vpc_id
  subnet_ids                      = module.network.private_subnet_ids
  app_security_group_id           = module.security.app_id
  app_lb_security_group_id        = module.security.app_lb_id
  ami_id                          = local.ami_id
  instance_type                   = var.app_instance_type
  root_volume_gb                  = 30
  min_size                        = var.app_min_size
  max_size                        = var.app_max_size
  desired_capacity                = var.app_desired_capacity
  cpu_target_percent              = var.app_cpu_target_percent
  bootstrap_script                = local.bootstrap
  deb_object_arns                 = local.deb_object_arns
  redis_host                      = module.redis.primary_endpoint
  redis_auth_token_parameter_name = module.redis.auth_token_parameter_name
  redis_auth_token_parameter_arn  = module.redis.auth_token_parameter_arn
  models_bucket_name              = module.storage.bucket_name
  models_bucket_arn               = module.storage.bucket_arn
  serve_args                      = var.serve_args
}

module "monitoring" {
  source = "./modules/monitoring"

  name              = var.name
  project_tag       = var.name
  region            = var.aws_region
  subnet_id         = module.network.private_subnet_ids[0]
  security_group_id = module.security.monitoring_id
  ami_id            = local.ami_id
  instance_type     = var.monitoring_instance_type
  volume_gb         = 50
  retention         = "30d"
  public_hostname   = var.public_hostname
  bootstrap_script  = local.bootstrap
}

module "edge" {
  source = "./modules/edge"

  name                               = var.name
  project_tag                        = var.name
  vpc_id                             = module.network.vpc_id
  public_subnet_ids                  = module.network.public_subnet_ids
  nginx_lb_security_group_id         = module.security.nginx_lb_id
  nginx_security_group_id            = module.security.nginx_id
  ami_id                             = local.ami_id
  instance_type                      = var.nginx_instance_type
  min_size                           = 2
  max_size                           = 4
  certificate_arn                    = var.certificate_arn
  public_hostname                    = var.public_hostname
  app_upstream                       = module.app.alb_dns_name
  monitoring_host                    = module.monitoring.private_ip
  prometheus_password_parameter_name = module.monitoring.prometheus_password_parameter_name
  prometheus_password_parameter_arn  = module.monitoring.prometheus_password_parameter_arn
  bootstrap_script                   = local.bootstrap
}

module "trainer" {
  source = "./modules/trainer"
  count  = var.training_enabled ? 1 : 0

  name                            = var.name
  project_tag                     = var.name
  subnet_id                       = module.network.private_subnet_ids[0]
  security_group_id               = module.security.trainer_id
  ami_id                          = local.ami_id
  instance_type                   = var.training_instance_type
  volume_gb                       = var.training_volume_gb
  train_device                    = var.training_device
  train_args                      = var.train_args
  train_on_boot                   = false
  training_data_s3_uri            = var.training_data_s3_uri
  bootstrap_script                = local.bootstrap
  deb_object_arns                 = local.deb_object_arns
  redis_host                      = module.redis.primary_endpoint
  redis_auth_token_parameter_name = module.redis.auth_token_parameter_name
  redis_auth_token_parameter_arn  = module.redis.auth_token_parameter_arn
  models_bucket_name              = module.storage.bucket_name
  models_bucket_arn               = module.storage.bucket_arn
  refresh_app_on_publish          = var.refresh_app_on_publish
  app_asg_name                    = module.app.asg_name
  app_asg_arn                     = module.app.asg_arn
}
