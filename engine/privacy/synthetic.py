"""Synthetic PII in realistic formats (fixed-seed generators) for the redaction bench and tests.

Formats follow how people write each kind in several countries: phone dialling plans, card brands with their print
groupings, IBAN layouts with valid check digits, US/UK/AU/continental addresses. They are written from those
conventions, not from the redaction patterns.
"""

from __future__ import annotations

import random
import re
import string

from engine.privacy.pii import PiiKind


def options(spec: str) -> list[str]:
    """The " | "-separated options of `spec`."""
    return [option.strip() for option in spec.split(" | ")]


FIRST = "james mary robert patricia john jennifer michael linda david elizabeth maria jose wei li mohammed fatima olga "
FIRST += "ivan sven ingrid pierre camille giulia luca aiko hiro priya arjun chloe liam noah emma zoe kofi amara"
LAST = "smith johnson williams brown jones garcia miller davis rodriguez martinez nguyen kim chen wang patel singh "
LAST += "mueller schmidt dubois moreau rossi bianchi tanaka sato obrien mcdonald van-dijk kowalski silva"
DOMAINS = "gmail.com yahoo.com yahoo.co.uk hotmail.com hotmail.fr outlook.com icloud.com aol.com proton.me gmx.de "
DOMAINS += "web.de t-online.de orange.fr libero.it btinternet.com comcast.net verizon.net mail.com yandex.ru "
DOMAINS += (
    "acme-corp.com mail.northwind.org globex.io student.uni-hamburg.de example.com.au shop.co.jp bigfirm.consulting"
)
STREETS = "Main Oak Maple Pine Cedar Elm Washington Lincoln Park Lake Hill Sunset Highland Church Mill Station "
STREETS += "Victoria Albert King George Queen Pennsylvania Old-Mill Lake-Shore 5th 42nd Riverside Green Chestnut"
SUFFIXES = [tuple(pair.split("/")) for pair in options(
    "Street/St | Avenue/Ave | Road/Rd | Boulevard/Blvd | Lane/Ln | Drive/Dr | Court/Ct | Way/Way | Place/Pl "
    "| Terrace/Ter | Close/Close | Crescent/Cres"
)]  # fmt: skip
US_CITIES = [tuple(pair.split("/")) for pair in options(
    "Springfield/IL | Austin/TX | Portland/OR | Columbus/OH | Denver/CO | Miami/FL | Seattle/WA | Brooklyn/NY "
    "| San Jose/CA | Atlanta/GA"
)]  # fmt: skip
UK_TOWNS = [tuple(pair.split("/")) for pair in options(
    "London/NW1 6XE | Leeds/LS1 4AP | Manchester/M1 1AE | Bristol/BS1 5TR | Glasgow/G2 3BZ | Cardiff/CF10 1EP"
)]  # fmt: skip

NEGATIVE_TEMPLATES = options(
    "I was charged {amt} on {date}. | The payment of {amt} was due on {date}. | It happened at {time} on {date}. "
    "| I have been a customer since {year}. | I called {n} times over {n2} weeks. | Between {year}-{year2} they "
    "reported it late. | The rate went from {pct}% to {pct2}%. | I bought {n} items for {amt}. | My score dropped {n} "
    "points to {score}. | The balance is now {amt}. | My zip code is {zip}. | The app is version {ver}. | The total "
    "was {amt} ({amt2} + tax). | It arrived on {date} at {time}. | I ordered {n} items on {date}. | It took {n2} "
    "days, not {n}."
)
# BBAN layouts (n: digit, a: upper-case letter, c: either) of the IBAN countries generated
IBAN_LAYOUTS = dict(pair.split(":") for pair in options(
    "DE:18n | GB:4a14n | FR:10n11c2n | ES:20n | IT:1a10n12c | NL:4a10n | BE:12n | CH:5n12c | AT:16n | PL:24n "
    "| IE:4a14n | PT:21n | SE:20n"
))  # fmt: skip
# brand: (prefixes, lengths, grouping)
CARD_BRANDS = {
    "visa": (["4"], [16, 16, 16, 13, 19], None),
    "mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16], None),
    "amex": (["34", "37"], [15], [4, 6, 5]),
    "discover": (["6011", "644", "65"], [16], None),
    "diners": (["36", "38", "300", "305"], [14], [4, 6, 4]),
    "jcb": (["3528", "3589", "353"], [16], None),
    "unionpay": (["62"], [16, 17, 19], None),
    "maestro": (["5018", "5020", "6759", "6304"], [16, 18, 19], None),
}
PHONE_FORMATS = {  # per country, with its share of the generated numbers
    ("us", 35): "({0}) {1}-{2} | {0}-{1}-{2} | {0}.{1}.{2} | {0} {1} {2} | +1 {0} {1} {2} | +1-{0}-{1}-{2} "
    "| 1-{0}-{1}-{2} | +1 ({0}) {1}-{2} | {0}{1}{2} | +1{0}{1}{2} | ({0}){1}-{2}",
    ("uk", 15): "07NNN NNNNNN | 07NNN NNN NNN | +44 7NNN NNNNNN | +44 (0)7NNN NNNNNN | +447NNNNNNNNN | 07NNNNNNNNN "
    "| 020 7NNN NNNN | +44 20 7NNN NNNN | 0161 NNN NNNN | 01632 NNNNNN",
    ("de", 10): "+49 30 NNNNNNNN | 030 NNNNNNNN | 030/NNNNNNN | 0151 NNNNNNNN | +49 151 NNNNNNNN "
    "| +49 (0)151 NNNN NNNN | 0049 30 NNNNNNNN | 089 NNNNNNN",
    ("fr", 8): "06 NN NN NN NN | +33 6 NN NN NN NN | 06.NN.NN.NN.NN | +33 (0)1 NN NN NN NN | 06NNNNNNNN",
    ("in", 8): "+91 9NNNN NNNNN | 9NNNN NNNNN | +91-9NNNNNNNNN | 09NNNN NNNNN | 9NNNNNNNNN",
    ("au", 7): "04NN NNN NNN | +61 4NN NNN NNN | (02) NNNN NNNN | +61 2 NNNN NNNN | 04 NNNN NNNN",
    ("es", 5): "+34 6NN NN NN NN | 6NN NN NN NN | 6NN NNN NNN | +34 91N NNN NNN",
    ("br", 4): "+55 11 9NNNN-NNNN | (11) 9NNNN-NNNN | +55 (11) 9NNNN-NNNN",
    ("jp", 4): "090-NNNN-NNNN | +81 90-NNNN-NNNN | 03-NNNN-NNNN | +81 3 NNNN NNNN",
    ("mx", 4): "+52 55 NNNN NNNN | 55 NNNN NNNN",
}


def digits(rng: random.Random, n: int) -> str:
    """`n` random digits."""
    return "".join(rng.choice(string.digits) for _ in range(n))


def _fmt(rng: random.Random, pattern: str) -> str:
    """Fill `N` with random digits in `pattern`."""
    return "".join(rng.choice(string.digits) if ch == "N" else ch for ch in pattern)


def gen_email(rng: random.Random) -> str:
    """An email address: name-based local parts, free-mail and company domains, some capitalised."""
    first, last = rng.choice(FIRST.split()), rng.choice(LAST.split())
    local = rng.choice(
        [f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}", f"{first}-{last}",
         f"{first}.{last}{rng.randint(1, 99)}", f"{first}{rng.randint(1950, 2005)}", f"{last}.{first[0]}",
         f"{first}.{last}+{rng.choice(['shop', 'news', 'x1'])}", f"{first[0]}{last[0]}{digits(rng, 4)}"]
    )  # fmt: skip
    email = f"{local}@{rng.choice(DOMAINS.split())}"
    return rng.choices([email, email.title(), email.upper()], [85, 12, 3])[0]


def gen_phone(rng: random.Random) -> str:
    """A phone number in one of ten countries' national or international formats."""
    us = f"{rng.randint(2, 9)}{digits(rng, 2)}", f"{rng.randint(2, 9)}{digits(rng, 2)}", digits(rng, 4)
    formats = rng.choices(list(PHONE_FORMATS.values()), [share for _, share in PHONE_FORMATS])[0]
    return _fmt(rng, rng.choice(options(formats)).format(*us))


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def gen_card(rng: random.Random) -> str:
    """A Luhn-valid card number of a real brand prefix and length, grouped as printed (or not)."""
    prefixes, lengths, grouping = CARD_BRANDS[rng.choices(list(CARD_BRANDS), [35, 25, 12, 8, 4, 6, 5, 5])[0]]
    prefix, length = rng.choice(prefixes), rng.choice(lengths)
    number = _luhn_complete(prefix + digits(rng, length - len(prefix) - 1))
    sizes = grouping or [4] * (length // 4) + ([length % 4] if length % 4 else [])
    groups, i = [], 0
    for size in sizes:
        groups.append(number[i : i + size])
        i += size
    sep = rng.choices([" ", "", "-", "."], [55, 25, 17, 3])[0]
    return sep.join(groups)


def gen_iban(rng: random.Random) -> str:
    """An IBAN with valid check digits, in print format (groups of four) or compact."""
    country = rng.choice(list(IBAN_LAYOUTS))
    bban = ""
    for count, kind in re.findall(r"(\d+)([nac])", IBAN_LAYOUTS[country]):
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}[kind]
        bban += "".join(rng.choice(alphabet) for _ in range(int(count)))
    check = 98 - int("".join(str(int(ch, 36)) for ch in bban + country + "00")) % 97
    iban = f"{country}{check:02d}{bban}"
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return rng.choices([grouped, iban, iban.lower()], [60, 35, 5])[0]


def gen_address(rng: random.Random) -> str:
    """A street address: US, UK, AU, German, French styles, lower-case variants and P.O. boxes."""
    num = str(rng.randint(1, 9999))
    street = rng.choice(STREETS.split()).replace("-", " ")
    full, short = rng.choice(SUFFIXES)
    suffix = rng.choice([full, short, short + "."]) if short != full else full
    unit = rng.choice(
        [
            "",
            "",
            "",
            f", Apt {rng.randint(1, 40)}",
            f" Apt {rng.randint(1, 9)}B",
            f", Suite {num[:3]}",
            f" #{rng.randint(1, 300)}",
        ]
    )
    city, state = rng.choice(US_CITIES)
    town, postcode = rng.choice(UK_TOWNS)
    styles = [
        f"{num} {street} {suffix}{unit}",
        f"{num} {street} {suffix}{unit}, {city}, {state} {digits(rng, 5)}",
        f"{num} {rng.choice(['N', 'S', 'W', 'North'])} {street} {suffix}, {city}, {state} {digits(rng, 5)}",
        f"{num} {street} {suffix}, {town} {postcode}",
        f"Flat {rng.randint(1, 20)}, {num} {street} {full}, {town} {postcode}",
        f"Unit {rng.randint(1, 20)}/{num} {street} {short}, Sydney NSW {rng.randint(2000, 2999)}",
        f"{num} {street.lower()} {short.lower()}{unit.lower()}",
        f"{rng.choice(['Haupt', 'Bahnhof', 'Garten'])}straße {rng.randint(1, 120)}, {digits(rng, 5)} Berlin",
        f"{rng.randint(1, 120)} rue {rng.choice(['de la Paix', 'Victor Hugo'])}, 750{digits(rng, 2)} Paris",
        f"P.O. Box {rng.randint(100, 99999)}",
        f"{num} {street} {full}, {city}, {state}",
        f"{rng.randint(100, 2000)} Broadway, New York, NY 100{digits(rng, 2)}",
    ]
    return rng.choices(styles, [20, 22, 6, 10, 5, 4, 8, 5, 5, 4, 6, 2])[0]


def gen_order(rng: random.Random) -> str:
    """An order number: digits, #-less short ids, ORD-2023-000123, marketplace 3-7-7 and prefixed forms."""
    year = rng.randint(2019, 2025)
    return rng.choice(
        [
            digits(rng, rng.randint(6, 12)),
            _fmt(rng, "NNNNN"),
            f"ORD-{year}-{digits(rng, 6)}",
            _fmt(rng, "NNN-NNNNNNN-NNNNNNN"),
            f"W{digits(rng, 9)}",
            f"A{digits(rng, 2)}B{digits(rng, 5)}",
            f"{rng.choice(['SO', 'PO', 'INV'])}{digits(rng, 7)}",
        ]
    )


def gen_account(rng: random.Random) -> str:
    """An account or customer number in common bank and membership formats."""
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(2))
    return rng.choice(
        [
            digits(rng, rng.randint(8, 12)),
            _fmt(rng, "NNNN-NNNN-NNNN"),
            f"{letters}{digits(rng, 6)}",
            f"CUST-{digits(rng, 6)}",
            _fmt(rng, "NNN-NNNNNN-NNN"),
            _fmt(rng, "NNNNNNNN"),
        ]
    )


GENERATORS = {
    PiiKind.EMAIL: gen_email,
    PiiKind.PHONE: gen_phone,
    PiiKind.CARD: gen_card,
    PiiKind.IBAN: gen_iban,
    PiiKind.ADDRESS: gen_address,
    PiiKind.ORDER: gen_order,
    PiiKind.ACCOUNT: gen_account,
}


def gen_negative(rng: random.Random) -> str:
    """A sentence full of numbers that are not PII: dates, amounts, times, years, versions, zip codes."""
    year = rng.randint(2015, 2024)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    month_name = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ][month - 1]
    date = rng.choice(
        [
            f"{month:02d}/{day:02d}/{year}",
            f"{month}/{day}/{year % 100}",
            f"{day:02d}/{month:02d}/{year}",
            f"{year}-{month:02d}-{day:02d}",
            f"{day:02d}.{month:02d}.{year}",
            f"{month_name} {day}, {year}",
            f"{day} {month_name} {year}",
        ]
    )
    value = rng.randint(1, 250_000) / rng.choice([1, 100])
    amt = rng.choice(
        [
            f"${value:,.2f}",
            f"${int(value)}",
            f"{value:,.2f} USD",
            f"€{int(value)}",
            f"£{value:,.2f}",
            f"{int(value):,} dollars",
        ]
    )
    return rng.choice(NEGATIVE_TEMPLATES).format(
        amt=amt,
        amt2=f"${rng.randint(1, 999)}.{digits(rng, 2)}",
        date=date,
        year=year,
        year2=year + rng.randint(1, 4),
        time=f"{rng.randint(1, 12)}:{rng.randint(0, 5)}{rng.randint(0, 9)} {rng.choice(['am', 'pm', 'PM'])}",
        n=rng.randint(2, 30),
        n2=rng.randint(2, 12),
        pct=rng.randint(1, 29),
        pct2=f"{rng.randint(1, 29)}.{rng.randint(0, 9)}",
        score=rng.randint(450, 850),
        zip=digits(rng, 5),
        ver=f"{rng.randint(1, 19)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
    )
