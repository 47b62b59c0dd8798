# gunicorn settings for the reference server, as the original system deployed its Flask app:
# sync workers, one per core, each importing app.py and so holding its own model.
#
#   cd bench/reference_server && /usr/bin/python3 -m gunicorn -c gunicorn.conf.py app:app
#
# PNEUMO_REF_BIND (default 127.0.0.1:8081) and PNEUMO_REF_WORKERS (default: the number of cores)
# override the two settings the benchmark varies.
import multiprocessing
import os

bind = os.environ.get("PNEUMO_REF_BIND", "127.0.0.1:8081")
workers = int(os.environ.get("PNEUMO_REF_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"  # one request at a time per worker; the connection closes after each
preload_app = False    # each worker loads its own model after the fork
timeout = 120          # a 32-client queue on 2 cores can hold a request for seconds
backlog = 2048
accesslog = None
loglevel = "warning"
