"""Every public class, method, property and function has a docstring."""
import inspect

import vindex


def test_public_api_documented():
    assert vindex.__doc__
    missing = []
    for name in vindex.__all__:
        obj = getattr(vindex, name)
        if isinstance(obj, int):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in inspect.getmembers(obj):
                if attr.startswith("_"):
                    continue
                if callable(member) or isinstance(member, property) or \
                        type(member).__name__ == "getset_descriptor":
                    if not inspect.getdoc(member):
                        missing.append(f"{name}.{attr}")
    assert not missing, missing
