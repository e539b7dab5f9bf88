"""One router per area; `fireline.api.app` mounts them all."""
