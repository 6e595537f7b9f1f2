# The fraud-detection BentoML service on Kubernetes: namespace, service account, API token
# secret, deployment, service, autoscaler and disruption budget.
#
# The image is the bento's (`bentoml containerize`): user `bentoml` (uid/gid 1034), `bentoml
# serve` on port 3000 with /livez, /readyz and /metrics. The root filesystem is read-only:
# BentoML creates its home's folders (bentos, models, tmp, Prometheus files) when it starts, so
# BENTOML_HOME points into the /tmp emptyDir, as in deploy/kubernetes/deployment.yaml.

locals {
  namespace = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace

  # The bento image's user (bentoml/_internal/container/generate.py); BentoML's home, writable.
  bento_uid    = 1034
  bento_home   = "/tmp/bentoml"
  service_port = 3000

  selector = {
    "app.kubernetes.io/name"     = var.name
    "app.kubernetes.io/instance" = var.name
  }
  labels = merge(var.labels, local.selector, {
    "app.kubernetes.io/component"  = "model-server"
    "app.kubernetes.io/part-of"    = "fraud-detection"
    "app.kubernetes.io/managed-by" = "terraform"
  })
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name   = var.namespace
    labels = merge(local.labels, { "pod-security.kubernetes.io/enforce" = "restricted" })
  }
}

# The pods never call the Kubernetes API: their own account, without a token.
resource "kubernetes_service_account_v1" "this" {
  metadata {
    name      = var.name
    namespace = local.namespace
    labels    = local.labels
  }
  automount_service_account_token = false
}

resource "kubernetes_secret_v1" "api_token" {
  count = var.api_token == null ? 0 : 1

  metadata {
    name      = var.api_token_secret_name
    namespace = local.namespace
    labels    = local.labels
  }
  type = "Opaque"
  data = {
    token = var.api_token
  }
}

resource "kubernetes_deployment_v1" "this" {
  metadata {
    name      = var.name
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    replicas = var.replicas

    selector {
      match_labels = local.selector
    }

    strategy {
      type = "RollingUpdate"
      rolling_update {
        max_surge       = "1"
        max_unavailable = "0"
      }
    }

    template {
      metadata {
        # `app` is what deploy/monitoring/prometheus-kubernetes.yml selects pods to scrape by.
        labels = merge(local.labels, { app = var.name })
        annotations = {
          "fraud-detection/model-tag" = var.model_tag
          "prometheus.io/scrape"      = "true"
          "prometheus.io/port"        = tostring(local.service_port)
          "prometheus.io/path"        = "/metrics"
        }
      }

      spec {
        service_account_name            = kubernetes_service_account_v1.this.metadata[0].name
        automount_service_account_token = false

        # Service links would add FRAUD_DETECTION_SERVICE_HOST, ... to the service's environment.
        enable_service_links = false

        # Longer than the preStop pause plus the service's 30 s request timeout.
        termination_grace_period_seconds = 45

        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "kubernetes.io/hostname"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector
          }
        }

        dynamic "image_pull_secrets" {
          for_each = var.image_pull_secrets
          content {
            name = image_pull_secrets.value
          }
        }

        security_context {
          run_as_non_root = true
          run_as_user     = local.bento_uid
          run_as_group    = local.bento_uid
          fs_group        = local.bento_uid
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = var.name
          image             = var.image
          image_pull_policy = var.image_pull_policy

          port {
            name           = "http"
            container_port = local.service_port
            protocol       = "TCP"
          }

          env {
            name  = "FRAUD_DETECTION_MODEL"
            value = var.model_tag
          }
          env {
            name  = "FRAUD_DETECTION_MAX_TRANSACTIONS"
            value = tostring(var.max_transactions)
          }
          env {
            # The root filesystem is read-only: no attempt to write bytecode next to the bento.
            name  = "PYTHONDONTWRITEBYTECODE"
            value = "1"
          }
          env {
            name  = "BENTOML_HOME"
            value = local.bento_home
          }
          env {
            name = "FRAUD_DETECTION_API_TOKEN"
            value_from {
              secret_key_ref {
                name = var.api_token == null ? var.api_token_secret_name : kubernetes_secret_v1.api_token[0].metadata[0].name
                key  = "token"
              }
            }
          }

          resources {
            requests = var.resources.requests
            limits   = var.resources.limits
          }

          # Loading the model and compiling the inference pipeline takes seconds: up to 2 min
          # before liveness applies.
          startup_probe {
            http_get {
              path = "/livez"
              port = "http"
            }
            period_seconds    = 5
            failure_threshold = 24
          }
          liveness_probe {
            http_get {
              path = "/livez"
              port = "http"
            }
            period_seconds    = 10
            timeout_seconds   = 5
            failure_threshold = 3
          }
          readiness_probe {
            http_get {
              path = "/readyz"
              port = "http"
            }
            period_seconds    = 5
            timeout_seconds   = 3
            failure_threshold = 3
          }

          lifecycle {
            # Leave the Service's endpoints before the server stops taking requests.
            pre_stop {
              exec {
                command = ["sleep", "5"]
              }
            }
          }

          security_context {
            run_as_non_root            = true
            run_as_user                = local.bento_uid
            allow_privilege_escalation = false
            privileged                 = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "256Mi"
          }
        }
      }
    }
  }

  lifecycle {
    # The autoscaler changes the replica count; Terraform must not reset it on every apply.
    ignore_changes = [spec[0].replicas]
  }
}

resource "kubernetes_service_v1" "this" {
  metadata {
    name      = var.name
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    type     = var.service_type
    selector = local.selector

    port {
      name        = "http"
      port        = var.service_port
      target_port = "http"
      protocol    = "TCP"
    }
  }
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "this" {
  metadata {
    name      = var.name
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    min_replicas = var.min_replicas
    max_replicas = var.max_replicas

    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.this.metadata[0].name
    }

    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = var.target_cpu_utilization
        }
      }
    }
  }
}

# Voluntary evictions (node drains, upgrades) take down one pod at a time.
resource "kubernetes_pod_disruption_budget_v1" "this" {
  metadata {
    name      = var.name
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.selector
    }
  }
}
