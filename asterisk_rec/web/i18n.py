"""The portal's words in Dutch and English (the menu names are the PBX manual's)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("nl", "en")

_WORDS: dict[str, tuple[str, str]] = {
    # key: (Dutch, English)
    "settings": ("Instellingen", "Settings"),
    "call_recording": ("Gespreksopname", "Call recording"),
    "reports": ("Rapporten", "Reports"),
    "calls": ("Gesprekken", "Calls"),
    "audit_log": ("Auditlog", "Audit log"),
    "log_in": ("Inloggen", "Log in"),
    "log_out": ("Uitloggen", "Log out"),
    "email": ("E-mailadres", "E-mail address"),
    "password": ("Wachtwoord", "Password"),
    "name": ("Naam", "Name"),
    "extension": ("Toestel", "Extension"),
    "devices": ("Apparaten", "Devices"),
    "type": ("Type", "Type"),
    "always": ("Altijd", "Always"),
    "on_demand": ("Op verzoek", "On demand"),
    "off": ("Uit", "Off"),
    "add": ("Toevoegen", "Add"),
    "remove": ("Verwijderen", "Remove"),
    "add_user": ("Gebruiker toevoegen", "Add a user"),
    "no_recorded_users": ("Nog niemand wordt opgenomen.", "Nobody is recorded yet."),
    "everyone_recorded": ("Alle gebruikers worden al opgenomen.", "Every user is recorded already."),
    "retention": ("Bewaartermijn", "Retention period"),
    "retention_later": ("De bewaartermijn en de kosten volgen.", "The retention period and its cost follow."),
    "bulk_download": ("Bulkdownload", "Bulk download"),
    "bulk_download_later": ("Bulkdownload volgt.", "Bulk download follows."),
    "date_time": ("Datum en tijd", "Date and time"),
    "from_date": ("Van", "From"),
    "to_date": ("Tot en met", "To"),
    "user": ("Gebruiker", "User"),
    "all_users": ("Alle gebruikers", "All users"),
    "number": ("Nummer", "Number"),
    "direction": ("Richting", "Direction"),
    "any_direction": ("Alle richtingen", "Any direction"),
    "internal": ("Intern", "Internal"),
    "inbound": ("Inkomend", "Inbound"),
    "outbound": ("Uitgaand", "Outbound"),
    "recorded_only": ("Alleen opgenomen", "Recorded only"),
    "filter": ("Filteren", "Filter"),
    "caller": ("Beller", "Caller"),
    "callee": ("Gebelde", "Callee"),
    "status": ("Status", "Status"),
    "duration": ("Duur", "Duration"),
    "recording": ("Opname", "Recording"),
    "play": ("Afspelen", "Play"),
    "download": ("Downloaden", "Download"),
    "answered": ("Beantwoord", "Answered"),
    "no_answer": ("Niet beantwoord", "No answer"),
    "busy": ("In gesprek", "Busy"),
    "failed": ("Mislukt", "Failed"),
    "in_progress": ("Bezig", "In progress"),
    "no_calls": ("Geen gesprekken gevonden.", "No calls found."),
    "previous": ("Vorige", "Previous"),
    "next": ("Volgende", "Next"),
    "page": ("Pagina", "Page"),
    "legal_hold": ("Juridische bewaring", "Legal hold"),
    "hold": ("Juridisch bewaren", "Legal hold"),
    "release": ("Bewaring opheffen", "Release the hold"),
    "desk": ("Bureautoestel", "Desk phone"),
    "app": ("App", "App"),
    "mobile": ("Mobiel", "Mobile"),
    "when": ("Wanneer", "When"),
    "who": ("Wie", "Who"),
    "action": ("Actie", "Action"),
    "subject": ("Onderwerp", "Subject"),
    "from_where": ("Vanaf", "From where"),
    "not_found": ("Niet gevonden", "Not found"),
    "error": ("Fout", "Error"),
    "time_zone_note": ("Tijden in", "Times in"),
}


def translator(language: str) -> Callable[[str], str]:
    index = LANGUAGES.index(language) if language in LANGUAGES else 0

    def translate(key: str) -> str:
        words = _WORDS.get(key)
        return words[index] if words else key

    return translate
