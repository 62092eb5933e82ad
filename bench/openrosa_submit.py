#!/usr/bin/env python3
"""OpenRosa submissions per second against a running hub.

    python3 bench/openrosa_submit.py SERVER_URL N CLIENTS

SERVER_URL is a Collect server URL from `fieldsync-hub enroll-code
--collect` for a device with demo_household and area CITY-N01. N
multipart submissions of demo_household, each a new instance, are sent
by CLIENTS threads on keep-alive connections; every one must be
answered 201. Start the hub with a --rate-limit above the rate measured
(the default limit answers 429 long before). Prints the rate.
"""
import http.client
import sys
import threading
import time
import urllib.parse
import uuid

BOUNDARY = "fieldsync-bench"


def body(instance):
    xml = ('<data id="demo_household" version="1"><_area>CITY-N01</_area>'
           '<age_band>25-34</age_band><belonging>4</belonging>'
           '<comment>bench</comment><meta><instanceID>uuid:%s</instanceID>'
           '</meta></data>' % instance)
    return ('--%s\r\nContent-Disposition: form-data; '
            'name="xml_submission_file"; filename="submission.xml"\r\n'
            'Content-Type: text/xml\r\n\r\n%s\r\n--%s--\r\n'
            % (BOUNDARY, xml, BOUNDARY)).encode()


def worker(url, count, errors):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    headers = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY,
               "X-OpenRosa-Version": "1.0"}
    for _ in range(count):
        conn.request("POST", url.path + "/submission", body(uuid.uuid4()),
                     headers)
        reply = conn.getresponse()
        text = reply.read()
        if reply.status != 201:
            errors.append((reply.status, text[:200]))
            return


def main():
    url = urllib.parse.urlparse(sys.argv[1])
    n, clients = int(sys.argv[2]), int(sys.argv[3])
    errors = []
    threads = [threading.Thread(target=worker, args=(url, n // clients, errors))
               for _ in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    if errors:
        sys.exit("not 201: %r" % (errors[0],))
    sent = n // clients * clients
    print("%d clients: %d submissions in %.2f s = %.0f/s"
          % (clients, sent, took, sent / took))


main()
