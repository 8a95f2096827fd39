"""mlflow_driverless: the prototype's command lines, kept as thin aliases of today's commands.

Who runs it: the caller's Python (`python -m ...`), like the `dai-mlflow` CLI it hands over to.
It is a face: it may import everything, and prints only the one line naming the new command.
"""
