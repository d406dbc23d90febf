#!/usr/bin/env python3
"""Turns a $getMedication answer into a $sendMedication body, editing it as an EHR would.

    python3 examples/sfm/edit_medication.py LOOKUP.json [options] > SEND.json

  --prescribe NAME   add a new prescription (createresept) of NAME, with a new ReseptId GUID
  --refnum           ask for a reference number on the new prescription (refnum "0")
  --recall TEXT      withdraw (M5, recallcode 2 Seponering) the prescription whose medication
                     name contains TEXT
  --drop TEXT        leave out the statement whose medication name contains TEXT (to break a rule)
  --create-pll       send a new PLL (createPLL true in sfm-PLL-info; one is added if missing)
  --relates-to ID    name another $getMedication composition identifier (to break rule 2)

The Composition's relatesTo names the lookup's composition identifier, in the spec's printed
form ({"code": "replaces", "targetIdentifier": {"value": ...}}). Python 3 standard library only.
"""

import argparse
import json
import sys
import uuid

PROFILE = "http://ehelse.no/fhir/StructureDefinition/"
AMENDMENT = PROFILE + "sfm-reseptamendment"


def name_of(statement):
    return statement.get("medicationReference", {}).get("display", "")


def find(entries, text):
    hits = [e for e in entries
            if e["resource"]["resourceType"] == "MedicationStatement" and text.lower() in name_of(e["resource"]).lower()]
    if not hits:
        sys.exit(f"no statement's medication contains {text!r}")
    return hits[0]


def amendment(statement):
    for ext in statement.setdefault("extension", []):
        if ext["url"] == AMENDMENT:
            return ext.setdefault("extension", [])
    ext = {"url": AMENDMENT, "extension": []}
    statement["extension"].insert(0, ext)
    return ext["extension"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lookup")
    parser.add_argument("--prescribe")
    parser.add_argument("--refnum", action="store_true")
    parser.add_argument("--recall", action="append", default=[])
    parser.add_argument("--drop", action="append", default=[])
    parser.add_argument("--create-pll", action="store_true")
    parser.add_argument("--relates-to")
    args = parser.parse_args()

    with open(args.lookup, encoding="utf-8") as f:
        answer = json.load(f)
    bundle = next(p["resource"] for p in answer["parameter"] if p["name"] == "medication")
    entries = bundle["entry"]
    composition = entries[0]["resource"]
    composition["relatesTo"] = {
        "code": "replaces",
        "targetIdentifier": {"value": args.relates_to or composition["identifier"]["value"]},
    }

    for text in args.recall:
        statement = find(entries, text)["resource"]
        statement["status"] = "stopped"
        amendment(statement).append({"url": "recallinfo", "extension": [
            {"url": "recallcode", "valueCodeableConcept": {"coding": [
                {"system": "urn:oid:2.16.578.1.12.4.1.1.7500", "code": "2", "display": "Seponering"}]}}]})

    for text in args.drop:
        dropped = find(entries, text)
        entries.remove(dropped)
        for section in composition.get("section", []):
            if "entry" in section:
                section["entry"] = [r for r in section["entry"] if r.get("reference") != dropped["fullUrl"]]

    if args.prescribe:
        medication_url = f"urn:uuid:{uuid.uuid4()}"
        parts = [
            {"url": "createresept", "valueBoolean": True},
            {"url": "dssn", "valueString": "1 tablett daglig"},
            {"url": "numberofpackages", "valueDecimal": 1},
            {"url": "reit", "valueString": "0"},
            {"url": "itemgroup", "valueCodeableConcept": {"coding": [
                {"system": "urn:oid:2.16.578.1.12.4.1.1.7402", "code": "L", "display": "Legemiddel"}]}},
        ]
        if args.refnum:
            parts.append({"url": "refnum", "valueString": "0"})
        statement = {
            "resourceType": "MedicationStatement",
            "meta": {"profile": [PROFILE + "sfm-MedicationStatement"]},
            "extension": [{"url": AMENDMENT, "extension": parts}],
            "identifier": [
                {"use": "usual", "type": {"text": "PLL"}, "value": str(uuid.uuid4())},
                {"use": "usual", "type": {"text": "ReseptId"}, "value": str(uuid.uuid4())},
            ],
            "status": "active",
            "medicationReference": {"reference": medication_url, "display": args.prescribe},
            "subject": composition["subject"],
            "dosage": [{"sequence": 1, "text": "1 tablett daglig"}],
        }
        medication = {"resourceType": "Medication", "meta": {"profile": [PROFILE + "sfm-Medication"]},
                      "code": {"text": args.prescribe}, "status": "active"}
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": statement})
        entries.append({"fullUrl": medication_url, "resource": medication})

    infos = [e["resource"] for e in entries
             if e["resource"]["resourceType"] == "Basic"
             and PROFILE + "sfm-PLL-info" in e["resource"].get("meta", {}).get("profile", [])]
    if args.create_pll and not infos:
        info = {"resourceType": "Basic", "meta": {"profile": [PROFILE + "sfm-PLL-info"]},
                "extension": [{"url": PROFILE + "sfm-pllInformation", "extension": []}],
                "code": {"coding": [{"system": "http://ehelse.no/fhir/CodeSystem/sfm-message-type", "code": "M25.1", "display": "PLL"}]},
                "subject": composition["subject"]}
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": info})
        infos.append(info)
    for info in infos:
        parts = info["extension"][0].setdefault("extension", [])
        parts[:] = [p for p in parts if p["url"] != "createPLL"]
        parts.append({"url": "createPLL", "valueBoolean": args.create_pll})

    json.dump({"resourceType": "Parameters", "parameter": [{"name": "medication", "resource": bundle}]},
              sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
