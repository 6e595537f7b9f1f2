# Inputs of the module. Only `image` and `model_tag` are required; the defaults suit a small
# production deployment (two replicas, autoscaled up to six on CPU).

variable "name" {
  description = "Name of the Deployment, Service, autoscaler and service account, and the value of their `app.kubernetes.io/name` label."
  type        = string
  default     = "fraud-detection"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters), e.g. \"fraud-detection\"."
  }
}

variable "namespace" {
  description = "Kubernetes namespace to deploy into."
  type        = string
  default     = "fraud-detection"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS-1123 label other than \"default\", e.g. \"fraud-detection\"."
  }
}

variable "create_namespace" {
  description = "Create the namespace. Set to false to deploy into a namespace that already exists (managed elsewhere)."
  type        = bool
  default     = true
}

variable "image" {
  description = "Container image of the bento (`bentoml containerize fraud_detection:<bento version>`), pushed to a registry the cluster can pull from: `registry/repository:tag` or `registry/repository@sha256:<digest>`."
  type        = string

  validation {
    condition     = can(regex("^[^@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must name a fixed tag or a digest, not \"latest\" or no tag: e.g. \"registry.example.com/fraud_detection:ab12cd34ef56gh78\"."
  }
}

variable "image_pull_policy" {
  description = "When the kubelet pulls the image: Always (checks the registry on every start) or IfNotPresent."
  type        = string
  default     = "Always"

  validation {
    condition     = contains(["Always", "IfNotPresent"], var.image_pull_policy)
    error_message = "image_pull_policy must be \"Always\" or \"IfNotPresent\"."
  }
}

variable "image_pull_secrets" {
  description = "Names of existing docker-registry secrets in the namespace, for a private registry."
  type        = list(string)
  default     = []
}

variable "model_tag" {
  description = "Tag of the model the image packs, `fraud_detection:<model version>` (`bentoml get fraud_detection:<bento version>` lists it under `models`). Set as FRAUD_DETECTION_MODEL and as the pods' `fraud-detection/model-tag` annotation; a built bento serves the version it packed whatever this says, so give that one."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?:[A-Za-z0-9_][A-Za-z0-9_.-]*$", var.model_tag)) && !endswith(var.model_tag, ":latest")
    error_message = "model_tag must be `name:version` with a fixed version, not \"latest\": e.g. \"fraud_detection:ab12cd34ef56gh78\"."
  }
}

variable "api_token" {
  description = "Bearer token `/predict` will require (FRAUD_DETECTION_API_TOKEN). When set, the module stores it in the Secret `api_token_secret_name` (and so in the Terraform state: keep the state encrypted). When null, that Secret must already exist (e.g. from an external secrets operator); pods do not start without it."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.api_token == null || length(coalesce(var.api_token, "x")) >= 32
    error_message = "api_token must be at least 32 characters (e.g. `openssl rand -hex 32`), or null to use an existing Secret."
  }
}

variable "api_token_secret_name" {
  description = "Name of the Secret holding the API token under the key `token`."
  type        = string
  default     = "fraud-detection-api-token"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", var.api_token_secret_name))
    error_message = "api_token_secret_name must be a DNS-1123 subdomain, e.g. \"fraud-detection-api-token\"."
  }
}

variable "max_transactions" {
  description = "Most transactions one request may carry, and the adaptive batch's maximum (FRAUD_DETECTION_MAX_TRANSACTIONS)."
  type        = number
  default     = 1000

  validation {
    condition     = var.max_transactions >= 1 && floor(var.max_transactions) == var.max_transactions
    error_message = "max_transactions must be a whole number of at least 1."
  }
}

variable "replicas" {
  description = "Replicas at creation. The autoscaler owns the count afterwards: Terraform ignores later changes to it."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= var.min_replicas && var.replicas <= var.max_replicas
    error_message = "replicas must lie between min_replicas and max_replicas."
  }
}

variable "min_replicas" {
  description = "Fewest replicas the autoscaler keeps. Two or more keep the service up while a node drains."
  type        = number
  default     = 2

  validation {
    condition     = var.min_replicas >= 1 && floor(var.min_replicas) == var.min_replicas
    error_message = "min_replicas must be a whole number of at least 1."
  }
}

variable "max_replicas" {
  description = "Most replicas the autoscaler may run."
  type        = number
  default     = 6

  validation {
    condition     = var.max_replicas >= var.min_replicas && floor(var.max_replicas) == var.max_replicas
    error_message = "max_replicas must be a whole number no smaller than min_replicas."
  }
}

variable "target_cpu_utilization" {
  description = "Average CPU use, in percent of the CPU request, the autoscaler aims for."
  type        = number
  default     = 70

  validation {
    condition     = var.target_cpu_utilization > 0 && var.target_cpu_utilization <= 100
    error_message = "target_cpu_utilization must be a percentage in (0, 100]."
  }
}

variable "resources" {
  description = "CPU and memory requests and limits of the service container (Kubernetes quantities). The autoscaler's target is a share of the CPU request."
  type = object({
    requests = object({ cpu = string, memory = string })
    limits   = object({ cpu = string, memory = string })
  })
  default = {
    requests = { cpu = "500m", memory = "1Gi" }
    limits   = { cpu = "1", memory = "2Gi" }
  }

  validation {
    condition = alltrue([
      for quantity in [var.resources.requests.cpu, var.resources.requests.memory, var.resources.limits.cpu, var.resources.limits.memory] :
      can(regex("^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$", quantity))
    ])
    error_message = "resources must give every request and limit as a Kubernetes quantity, e.g. cpu \"500m\", memory \"1Gi\"."
  }
}

variable "service_type" {
  description = "Type of the Service in front of the pods. ClusterIP keeps it inside the cluster (put an Ingress or Gateway in front)."
  type        = string
  default     = "ClusterIP"

  validation {
    condition     = contains(["ClusterIP", "NodePort", "LoadBalancer"], var.service_type)
    error_message = "service_type must be ClusterIP, NodePort or LoadBalancer."
  }
}

variable "service_port" {
  description = "Port the Service listens on; it forwards to the container's port 3000."
  type        = number
  default     = 80

  validation {
    condition     = var.service_port >= 1 && var.service_port <= 65535
    error_message = "service_port must be a TCP port number (1-65535)."
  }
}

variable "labels" {
  description = "Extra labels for every object the module creates (team, cost centre, ...)."
  type        = map(string)
  default     = {}
}
