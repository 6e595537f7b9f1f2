# A root module using ../..: the provider configuration the module leaves to its caller, and the
# few inputs a deployment must choose. See docs/operations/terraform.md.
#
#   cp terraform.tfvars.example terraform.tfvars   # then edit
#   export TF_VAR_api_token=$(openssl rand -hex 32)
#   terraform init && terraform plan -out plan.tfplan && terraform apply plan.tfplan

terraform {
  required_version = ">= 1.9.0"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.0"
    }
  }
}

variable "kubeconfig" {
  description = "Path of the kubeconfig file to deploy with."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Context of the kubeconfig to use; null for its current context."
  type        = string
  default     = null
}

variable "image" {
  description = "The bento's image in your registry, with a fixed tag or digest."
  type        = string
}

variable "model_tag" {
  description = "Tag of the model the image packs, `fraud_detection:<model version>`."
  type        = string
}

variable "api_token" {
  description = "Bearer token for /predict (set TF_VAR_api_token rather than writing it to a file)."
  type        = string
  sensitive   = true
}

provider "kubernetes" {
  config_path    = pathexpand(var.kubeconfig)
  config_context = var.kube_context
}

module "fraud_detection" {
  source = "../.."

  image     = var.image
  model_tag = var.model_tag
  api_token = var.api_token
}

output "cluster_url" {
  description = "Base URL of the service inside the cluster."
  value       = module.fraud_detection.cluster_url
}
