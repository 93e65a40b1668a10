"""Validates the admin API's OpenAPI document (openapi-spec-validator) and
real answers of a running API against the document's response schemas.

Reads {"document": {...}, "samples": [{"path", "method", "status", "body"}]}
on standard input; exits non-zero with the reason on the first problem."""

import json
import sys

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate


def response_schema(document, response):
    if "$ref" in response:
        target = document
        for part in response["$ref"].lstrip("#/").split("/"):
            target = target[part]
        response = target
    return response["content"]["application/json"]["schema"]


def main():
    data = json.load(sys.stdin)
    document = data["document"]
    validate(document)
    for sample in data["samples"]:
        operation = document["paths"][sample["path"]][sample["method"]]
        response = operation["responses"].get(str(sample["status"]))
        if response is None:
            sys.exit(f"{sample['method']} {sample['path']}: status {sample['status']} is not documented")
        schema = response_schema(document, response)
        # The schema's references point into the document's components.
        validator = OAS31Validator({**schema, "components": document["components"]})
        errors = sorted(validator.iter_errors(sample["body"]), key=str)
        if errors:
            sys.exit(f"{sample['method']} {sample['path']} {sample['status']}: {errors[0].message}\n"
                     f"body: {json.dumps(sample['body'])[:2000]}")
    print(f"document valid; {len(data['samples'])} answers match their schemas")


if __name__ == "__main__":
    main()
