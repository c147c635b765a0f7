"""What an app sends MongoDB, counted with a command listener on a fresh connection."""

from pymongo import monitoring

from crm import db

# Authenticating a request reads its API key, and reconnecting declares the indexes
# again: neither is what a test measures.
NOT_MEASURED_COLLECTIONS = ("api_keys",)
NOT_MEASURED_COMMANDS = ("createIndexes",)


class Commands(monitoring.CommandListener):
    """The commands an app sends, with how many documents the replies carried."""

    def __init__(self):
        self.sent, self.returned, self._measured = [], 0, set()

    def started(self, event):
        if event.command_name in NOT_MEASURED_COMMANDS:
            return
        if event.command.get(event.command_name) not in NOT_MEASURED_COLLECTIONS:
            self.sent.append((event.command_name, dict(event.command)))
            self._measured.add(event.request_id)

    def succeeded(self, event):
        if event.request_id in self._measured:
            cursor = event.reply.get("cursor", {})
            self.returned += len(cursor.get("firstBatch", cursor.get("nextBatch", [])))

    def failed(self, event):
        pass

    @property
    def names(self):
        return [name for name, _ in self.sent]

    @property
    def collections(self):
        return [command.get(name) for name, command in self.sent]

    def on(self, collection):
        """The commands sent about ``collection``."""
        return [(name, command) for name, command in self.sent if command.get(name) == collection]


def listen(settings):
    """A new connection for the app, whose commands from now on are counted."""
    commands = Commands()
    db.connect(settings, [commands])
    db.ensure_indexes()
    commands.sent.clear()
    commands.returned = 0
    return commands
