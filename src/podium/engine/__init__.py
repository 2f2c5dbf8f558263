"""The interpreter: instance lifecycle, data flow, flow directives, errors."""
