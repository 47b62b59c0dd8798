# Every security group of the deployment, and every rule, in one file: least privilege is
# easiest to review when it is all in one place. Rules are separate
# aws_vpc_security_group_{ingress,egress}_rule resources (no inline blocks), one per port and source,
# with literal ports, so that tests/cloud/security_groups_test.mjs can check each of them:
#   - nothing but the public load balancer's 80/443 is open to a CIDR;
#   - Redis (6379) only from the app and trainer groups;
#   - metrics ports (8080 /metrics, 8000 trainer, 9100 node, 9121 redis, 9113 nginx exporters)
#     only from the monitoring group (8080 also from the internal load balancer: it is the app port);
#   - Grafana (3000) and Prometheus (9090) only from nginx, which puts authentication in front.
# No group allows SSH (22): operators use SSM Session Manager.

resource "aws_security_group" "nginx_lb" {
  name_prefix = "${var.name}-nginx-lb-"
  description = "Public network load balancer in front of nginx: HTTP and HTTPS from the internet."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-nginx-lb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "nginx" {
  name_prefix = "${var.name}-nginx-"
  description = "nginx tier (public subnets): only from its load balancer; exporters only from monitoring."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-nginx" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "app_lb" {
  name_prefix = "${var.name}-app-lb-"
  description = "Internal application load balancer: only from nginx."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-app-lb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "app" {
  name_prefix = "${var.name}-app-"
  description = "pneumo servers (private subnets): 8080 from the internal load balancer; metrics only from monitoring."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-app" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "redis" {
  name_prefix = "${var.name}-redis-"
  description = "ElastiCache Redis: 6379 only from the pneumo servers and the trainer."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-redis" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "trainer" {
  name_prefix = "${var.name}-trainer-"
  description = "Training instance (private subnet): metrics only from monitoring."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-trainer" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "monitoring" {
  name_prefix = "${var.name}-monitoring-"
  description = "Prometheus and Grafana (private subnet): only from nginx, which authenticates."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-monitoring" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "endpoints" {
  name_prefix = "${var.name}-endpoints-"
  description = "VPC interface endpoints (SSM): HTTPS only from the instance tiers."
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-endpoints" }

  lifecycle {
    create_before_destroy = true
  }
}

# --- The only rules open to the internet: HTTP and HTTPS on the public load balancer.

resource "aws_vpc_security_group_ingress_rule" "nginx_lb_http_from_internet" {
  for_each = toset(var.public_ingress_cidrs)

  security_group_id = aws_security_group.nginx_lb.id
  description       = "HTTP from the internet (nginx redirects to HTTPS)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "nginx_lb_https_from_internet" {
  for_each = toset(var.public_ingress_cidrs)

  security_group_id = aws_security_group.nginx_lb.id
  description       = "HTTPS from the internet"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# --- Ingress between tiers: always from a security group, never from a range.

resource "aws_vpc_security_group_ingress_rule" "nginx_80_from_nginx_lb" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.nginx_lb.id
  description                  = "HTTP from the public load balancer (redirect to HTTPS, health check)"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

resource "aws_vpc_security_group_ingress_rule" "nginx_443_from_nginx_lb" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.nginx_lb.id
  description                  = "HTTPS from the public load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "nginx_9100_from_monitoring" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "node exporter, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

resource "aws_vpc_security_group_ingress_rule" "nginx_9113_from_monitoring" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "nginx exporter, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 9113
  to_port                      = 9113
}

resource "aws_vpc_security_group_ingress_rule" "app_lb_80_from_nginx" {
  security_group_id            = aws_security_group.app_lb.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "HTTP from nginx"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

resource "aws_vpc_security_group_ingress_rule" "app_8080_from_app_lb" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.app_lb.id
  description                  = "pneumo serve from the internal load balancer (traffic and /readyz)"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_ingress_rule" "app_8080_from_monitoring" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "pneumo /metrics, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_ingress_rule" "app_9100_from_monitoring" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "node exporter, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

resource "aws_vpc_security_group_ingress_rule" "app_9121_from_monitoring" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "redis exporter (through the local TLS tunnel), scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 9121
  to_port                      = 9121
}

resource "aws_vpc_security_group_ingress_rule" "redis_6379_from_app" {
  security_group_id            = aws_security_group.redis.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "Redis from the pneumo servers (history store)"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_ingress_rule" "redis_6379_from_trainer" {
  security_group_id            = aws_security_group.redis.id
  referenced_security_group_id = aws_security_group.trainer.id
  description                  = "Redis from the trainer"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_ingress_rule" "trainer_8000_from_monitoring" {
  security_group_id            = aws_security_group.trainer.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "pneumo train --metrics-port 8000, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_vpc_security_group_ingress_rule" "trainer_9100_from_monitoring" {
  security_group_id            = aws_security_group.trainer.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "node exporter, scraped by Prometheus"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

resource "aws_vpc_security_group_ingress_rule" "monitoring_3000_from_nginx" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "Grafana behind nginx (/grafana/)"
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
}

resource "aws_vpc_security_group_ingress_rule" "monitoring_9090_from_nginx" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "Prometheus behind nginx with basic auth (/prometheus/)"
  ip_protocol                  = "tcp"
  from_port                    = 9090
  to_port                      = 9090
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_443_from_nginx" {
  security_group_id            = aws_security_group.endpoints.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "SSM endpoints from nginx"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_443_from_app" {
  security_group_id            = aws_security_group.endpoints.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "SSM endpoints from the pneumo servers"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_443_from_trainer" {
  security_group_id            = aws_security_group.endpoints.id
  referenced_security_group_id = aws_security_group.trainer.id
  description                  = "SSM endpoints from the trainer"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_443_from_monitoring" {
  security_group_id            = aws_security_group.endpoints.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "SSM endpoints from monitoring"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

# --- Egress between tiers.

resource "aws_vpc_security_group_egress_rule" "nginx_lb_80_to_nginx" {
  security_group_id            = aws_security_group.nginx_lb.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "To nginx on 80"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

resource "aws_vpc_security_group_egress_rule" "nginx_lb_443_to_nginx" {
  security_group_id            = aws_security_group.nginx_lb.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "To nginx on 443"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_vpc_security_group_egress_rule" "nginx_80_to_app_lb" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.app_lb.id
  description                  = "To app_lb on 80"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

resource "aws_vpc_security_group_egress_rule" "nginx_3000_to_monitoring" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "To monitoring on 3000"
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
}

resource "aws_vpc_security_group_egress_rule" "nginx_9090_to_monitoring" {
  security_group_id            = aws_security_group.nginx.id
  referenced_security_group_id = aws_security_group.monitoring.id
  description                  = "To monitoring on 9090"
  ip_protocol                  = "tcp"
  from_port                    = 9090
  to_port                      = 9090
}

resource "aws_vpc_security_group_egress_rule" "app_lb_8080_to_app" {
  security_group_id            = aws_security_group.app_lb.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "To app on 8080"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_egress_rule" "app_6379_to_redis" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.redis.id
  description                  = "To redis on 6379"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_egress_rule" "trainer_6379_to_redis" {
  security_group_id            = aws_security_group.trainer.id
  referenced_security_group_id = aws_security_group.redis.id
  description                  = "To redis on 6379"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_vpc_security_group_egress_rule" "monitoring_9100_to_nginx" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "To nginx on 9100"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

resource "aws_vpc_security_group_egress_rule" "monitoring_9113_to_nginx" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.nginx.id
  description                  = "To nginx on 9113"
  ip_protocol                  = "tcp"
  from_port                    = 9113
  to_port                      = 9113
}

resource "aws_vpc_security_group_egress_rule" "monitoring_8080_to_app" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "To app on 8080"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_egress_rule" "monitoring_9100_to_app" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "To app on 9100"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

resource "aws_vpc_security_group_egress_rule" "monitoring_9121_to_app" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.app.id
  description                  = "To app on 9121"
  ip_protocol                  = "tcp"
  from_port                    = 9121
  to_port                      = 9121
}

resource "aws_vpc_security_group_egress_rule" "monitoring_8000_to_trainer" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.trainer.id
  description                  = "To trainer on 8000"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_vpc_security_group_egress_rule" "monitoring_9100_to_trainer" {
  security_group_id            = aws_security_group.monitoring.id
  referenced_security_group_id = aws_security_group.trainer.id
  description                  = "To trainer on 9100"
  ip_protocol                  = "tcp"
  from_port                    = 9100
  to_port                      = 9100
}

# --- Egress to the internet through NAT (or the internet gateway for nginx): Debian's archive
# (HTTP, signed), the SSM agent and AWS APIs (HTTPS). Redis and the load balancers get none.

resource "aws_vpc_security_group_egress_rule" "nginx_443_to_internet" {
  security_group_id = aws_security_group.nginx.id
  description       = "HTTPS: AWS APIs, S3, SSM, package repositories"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "nginx_80_to_internet" {
  security_group_id = aws_security_group.nginx.id
  description       = "HTTP: Debian archive (packages are signed)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "app_443_to_internet" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS: AWS APIs, S3, SSM, package repositories"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "app_80_to_internet" {
  security_group_id = aws_security_group.app.id
  description       = "HTTP: Debian archive (packages are signed)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "trainer_443_to_internet" {
  security_group_id = aws_security_group.trainer.id
  description       = "HTTPS: AWS APIs, S3, SSM, package repositories"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "trainer_80_to_internet" {
  security_group_id = aws_security_group.trainer.id
  description       = "HTTP: Debian archive (packages are signed)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "monitoring_443_to_internet" {
  security_group_id = aws_security_group.monitoring.id
  description       = "HTTPS: AWS APIs, S3, SSM, package repositories"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "monitoring_80_to_internet" {
  security_group_id = aws_security_group.monitoring.id
  description       = "HTTP: Debian archive (packages are signed)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}
