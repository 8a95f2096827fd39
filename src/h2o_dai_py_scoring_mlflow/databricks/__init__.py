"""databricks: put a logged model in front of users on Databricks - register it, roll a Model
Serving endpoint to it (create or update, wait for READY, show build logs on failure, smoke-test
it), create the deployment job, hand workspace credentials to Python 3.8 children, and pack this
package as a zip for notebooks that cannot install it.

Who runs it: the caller's Python (a laptop, a notebook, a job) with the `[databricks]` extra
(databricks-sdk). May import the foundation, `export`, `runtime`, `bridge`, `model`, `checks`.
"""
