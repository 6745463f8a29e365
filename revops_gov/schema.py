"""OpenAPI additions shared by every endpoint: the one error shape, documented on every operation."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a sentence for people, the fields that were wrong, structured detail.",
    "properties": {
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "extra": {"type": "object", "additionalProperties": True},
    },
    "required": ["message"],
}
ERRORS = {
    "400": "Invalid input: `fields` names each field and what is wrong with it.",
    "401": "No token, or a revoked or unknown one.",
    "403": "Your role (or your token's system) does not allow this.",
    "404": "Not found, or not visible to your token's system.",
    "405": "This method is not allowed here (automations are retired, never deleted).",
    "409": "The request collides with the current state; `extra` says with what.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error responses to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
