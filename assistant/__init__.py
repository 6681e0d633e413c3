"""Besponsa precautions assistant: grounded, quoted answers with a deterministic guardrail."""
