output "namespace" {
  description = "Namespace the service runs in."
  value       = local.namespace
}

output "deployment_name" {
  description = "Name of the Deployment (`kubectl rollout status deployment/<name> -n <namespace>`)."
  value       = kubernetes_deployment_v1.this.metadata[0].name
}

output "service_name" {
  description = "Name of the Service in front of the pods."
  value       = kubernetes_service_v1.this.metadata[0].name
}

output "service_port" {
  description = "Port the Service listens on."
  value       = var.service_port
}

output "cluster_url" {
  description = "Base URL of the service inside the cluster: POST <cluster_url>/predict, GET <cluster_url>/metrics."
  value       = "http://${kubernetes_service_v1.this.metadata[0].name}.${local.namespace}.svc.cluster.local:${var.service_port}"
}

output "autoscaler_name" {
  description = "Name of the HorizontalPodAutoscaler."
  value       = kubernetes_horizontal_pod_autoscaler_v2.this.metadata[0].name
}

output "api_token_secret_name" {
  description = "Secret the pods read FRAUD_DETECTION_API_TOKEN from (key `token`)."
  value       = var.api_token_secret_name
}

output "model_tag" {
  description = "Model tag the pods serve (FRAUD_DETECTION_MODEL)."
  value       = var.model_tag
}
