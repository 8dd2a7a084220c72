from pathlib import Path

from django.core.management.base import BaseCommand

from casehub.cases.reference import STARTER_LIST, load_offences


class Command(BaseCommand):
    help = "Load or update the charge list (罪名) from a CSV: code,name,article,effective_from[,effective_to]."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", default=str(STARTER_LIST))

    def handle(self, *args, path: str, **options) -> None:
        created, updated = load_offences(Path(path))
        self.stdout.write(f"offences: {created} created, {updated} updated")
