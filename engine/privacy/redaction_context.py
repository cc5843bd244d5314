"""What the redactor knows beyond a text: names to always hide or keep, and the regions to read phone numbers in."""

from __future__ import annotations

from dataclasses import dataclass

from engine.privacy.pii import known_region


@dataclass(frozen=True)
class RedactionContext:
    """Names always hidden (the customer's own, other customers'), names kept (staff, company), phone regions."""

    names: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def with_defaults(self, desk: RedactionContext) -> RedactionContext:
        """This context plus the desk's settings: the customer's regions after the desk's default one."""
        return RedactionContext(
            names=self.names + desk.names,
            keep=self.keep + desk.keep,
            regions=tuple(dict.fromkeys(desk.regions + self.regions)),
        )


_desk = RedactionContext(regions=("US",))


def configure(*, phone_region: str, keep_names: tuple[str, ...] = ()) -> None:
    """Set the desk's defaults for every redaction in this process (from Settings at start-up)."""
    global _desk
    region = known_region(phone_region)
    if region is None:
        raise ValueError(f"phone_region {phone_region!r} is not an ISO 3166 region code libphonenumber knows")
    _desk = RedactionContext(keep=tuple(n.strip() for n in keep_names if n.strip()), regions=(region,))


def desk_context() -> RedactionContext:
    """The desk's defaults set by `configure` (the US region and no kept names until then)."""
    return _desk


def region_from_email(email: str | None) -> str | None:
    """The country of an e-mail address's country-code domain ("x@web.de" -> "DE"), else None."""
    if not email or "@" not in email:
        return None
    tld = email.rsplit(".", 1)[-1]
    return known_region(tld) if len(tld) == 2 else None


def customer_context(name: str | None, email: str | None = None) -> RedactionContext:
    """A customer record's hints: their name is always hidden, their e-mail's country reads national numbers."""
    region = region_from_email(email)
    return RedactionContext(names=(name,) if name and name.strip() else (), regions=(region,) if region else ())
