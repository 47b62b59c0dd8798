# The shared prediction history: ElastiCache for Redis (cluster mode off, so SELECT 0 and the
# redis://:password@host:port/db URL that pneumo speaks keep working), a primary and replicas in
# both zones with automatic failover, AUTH, TLS in transit, encryption at rest and daily snapshots.
#
# pneumo's Redis client speaks plain RESP, so every client host runs a local stunnel that
# verifies the endpoint's certificate and carries the connection over TLS (see the app and
# trainer user data): pneumo connects to redis://:TOKEN@127.0.0.1:6379/0.

resource "random_password" "auth_token" {
  # ElastiCache AUTH tokens: 16 to 128 printable characters, none of @ " /. Letters and digits
  # only, so the token also drops into a URL unescaped.
  length  = 48
  special = false
}

resource "aws_ssm_parameter" "auth_token" {
  name        = "/${var.name}/redis/auth-token"
  description = "AUTH token of the ${var.name} Redis replication group"
  type        = "SecureString"
  value       = random_password.auth_token.result
}

resource "aws_elasticache_subnet_group" "this" {
  name       = "${var.name}-redis"
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_parameter_group" "this" {
  name   = "${var.name}-redis7"
  family = "redis7"

  # The history is the only data set: never evict it to make room.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = "${var.name}-history"
  description          = "pneumo prediction history"

  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.this.name
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [var.security_group_id]

  num_cache_clusters         = 1 + var.replicas
  automatic_failover_enabled = var.replicas > 0
  multi_az_enabled           = var.replicas > 0

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.auth_token.result

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false
  final_snapshot_identifier  = "${var.name}-history-final"
}
