

def test_the_name_rule_is_the_documented_pattern() -> None:
    """is_name is [A-Za-z0-9_@][A-Za-z0-9_.@-]{0,63}, checked without a regular expression."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from daemonctl.store.statedir import is_name

    pattern = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,63}")
    alphabet = st.sampled_from("aZ09_.@-/ \n\té$")

    @settings(max_examples=500, deadline=None)
    @given(st.text(alphabet, max_size=70) | st.text(max_size=70))
    def check(name: str) -> None:
        assert is_name(name) == bool(pattern.fullmatch(name))

    check()
    for name in ["a" * 64, "a" * 65, "", ".x", "-x", "x.", "web@1", "Web_2-b.c", "x\n", "é"]:
        assert is_name(name) == bool(pattern.fullmatch(name)), name
