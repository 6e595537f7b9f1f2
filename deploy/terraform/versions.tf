# Terraform 1.9 or later: variable validations below compare one variable with another.
# The kubernetes provider 3.x: every resource here is a versioned one (`*_v1`, `*_v2`), the
# only kind 3.x keeps undeprecated.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.0"
    }
  }
}
