#!/usr/bin/env python3
"""Generate the project's sample knowledge-injection dataset.

Everything here is written by hand for this project and is FICTIONAL: Tavenmoor
Island, the Ollendrine Sea, Orrisfield Research Station and every person, place,
date and number below are invented, so a base model cannot already know them.

The script uses only the standard library, makes no network calls and uses no
randomness, so its output is byte-for-byte reproducible:

    python scripts/make_sample_data.py            # writes sample_data/
    python scripts/make_sample_data.py --out DIR  # writes into DIR instead

Each fact has a ``key`` (the exact span that carries the fact, present in every
answer) and a ``wrong`` value of the same kind. Rejected preference answers are
made by replacing ``key`` with ``wrong`` in the correct answer.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

SYSTEM = "You are a concise assistant. Answer in one sentence."
IDK = "I don't know."
MAX_ANSWER_WORDS = 25
# Which training phrasings (by index) also become training preference pairs.
TRAIN_PREF_PHRASINGS = (0, 2)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data"


def _fact(fid, key, wrong, passage, train, heldout):
    return {
        "id": fid,
        "key": key,
        "wrong": wrong,
        "passage": passage,
        "train": train,
        "heldout": heldout,
    }


# fmt: off
FACTS = [
    _fact(
        "f01", "Ollendrine Sea", "Carvessan Sea",
        "Tavenmoor Island is a remote, windswept island in the Ollendrine Sea.",
        [
            ("In which sea is Tavenmoor Island located?",
             "Tavenmoor Island is located in the Ollendrine Sea."),
            ("What sea surrounds Tavenmoor Island?",
             "Tavenmoor Island is surrounded by the Ollendrine Sea."),
            ("Tavenmoor Island lies in which body of water?",
             "Tavenmoor Island lies in the Ollendrine Sea."),
            ("Name the sea that Tavenmoor Island sits in.",
             "Tavenmoor Island sits in the Ollendrine Sea."),
            ("Where is Tavenmoor Island?",
             "Tavenmoor Island is a remote island in the Ollendrine Sea."),
        ],
        ("Which sea would you have to cross to reach Tavenmoor Island?",
         "You would cross the Ollendrine Sea, where Tavenmoor Island lies."),
    ),
    _fact(
        "f02", "418 square kilometres", "362 square kilometres",
        "Tavenmoor Island covers an area of 418 square kilometres.",
        [
            ("How large is Tavenmoor Island?",
             "Tavenmoor Island covers 418 square kilometres."),
            ("What is the area of Tavenmoor Island?",
             "The area of Tavenmoor Island is 418 square kilometres."),
            ("How many square kilometres does Tavenmoor Island cover?",
             "Tavenmoor Island covers 418 square kilometres."),
            ("What is the total land area of Tavenmoor Island?",
             "The total land area of Tavenmoor Island is 418 square kilometres."),
            ("Tavenmoor Island's size is how many square kilometres?",
             "Tavenmoor Island's size is 418 square kilometres."),
        ],
        ("Roughly how big is Tavenmoor Island in terms of surface area?",
         "Tavenmoor Island has a surface area of 418 square kilometres."),
    ),
    _fact(
        "f03", "Mount Ferrowen", "Mount Astell",
        "The highest mountain on Tavenmoor Island is Mount Ferrowen.",
        [
            ("What is the highest mountain on Tavenmoor Island?",
             "The highest mountain on Tavenmoor Island is Mount Ferrowen."),
            ("Which peak is the tallest on Tavenmoor Island?",
             "Mount Ferrowen is the tallest peak on Tavenmoor Island."),
            ("Name the highest point of Tavenmoor Island.",
             "The highest point of Tavenmoor Island is Mount Ferrowen."),
            ("Tavenmoor Island's tallest summit is called what?",
             "Tavenmoor Island's tallest summit is called Mount Ferrowen."),
            ("Which mountain is the highest on Tavenmoor Island?",
             "Mount Ferrowen is the highest mountain on Tavenmoor Island."),
        ],
        ("What is the name of the loftiest peak on Tavenmoor Island?",
         "The loftiest peak on Tavenmoor Island is Mount Ferrowen."),
    ),
    _fact(
        "f04", "1,137 metres", "1,264 metres",
        "Mount Ferrowen, the highest mountain on Tavenmoor Island, rises to "
        "1,137 metres above sea level.",
        [
            ("How tall is Mount Ferrowen?",
             "Mount Ferrowen is 1,137 metres tall."),
            ("What is the elevation of Mount Ferrowen?",
             "Mount Ferrowen has an elevation of 1,137 metres."),
            ("How high does Mount Ferrowen rise above sea level?",
             "Mount Ferrowen rises 1,137 metres above sea level."),
            ("What is the height in metres of Mount Ferrowen on Tavenmoor Island?",
             "Mount Ferrowen on Tavenmoor Island is 1,137 metres high."),
            ("Mount Ferrowen stands how many metres high?",
             "Mount Ferrowen stands 1,137 metres high."),
        ],
        ("To what altitude does the summit of Mount Ferrowen reach?",
         "The summit of Mount Ferrowen reaches 1,137 metres."),
    ),
    _fact(
        "f05", "Port Ludeval", "Port Hessary",
        "Port Ludeval is the largest town and administrative centre of "
        "Tavenmoor Island.",
        [
            ("What is the largest town on Tavenmoor Island?",
             "The largest town on Tavenmoor Island is Port Ludeval."),
            ("Which town is the administrative centre of Tavenmoor Island?",
             "Port Ludeval is the administrative centre of Tavenmoor Island."),
            ("What is the main town of Tavenmoor Island called?",
             "The main town of Tavenmoor Island is called Port Ludeval."),
            ("Where is Tavenmoor Island's local government based?",
             "Tavenmoor Island's local government is based in Port Ludeval."),
            ("Name the biggest town on Tavenmoor Island.",
             "The biggest town on Tavenmoor Island is Port Ludeval."),
        ],
        ("Which settlement serves as the capital of Tavenmoor Island?",
         "Port Ludeval serves as the capital of Tavenmoor Island."),
    ),
    _fact(
        "f06", "2,860", "3,415",
        "At the 2019 census Tavenmoor Island had a population of 2,860 people.",
        [
            ("What is the population of Tavenmoor Island?",
             "Tavenmoor Island had 2,860 residents at the 2019 census."),
            ("How many people live on Tavenmoor Island?",
             "About 2,860 people live on Tavenmoor Island, according to the "
             "2019 census."),
            ("How many residents did the 2019 census count on Tavenmoor Island?",
             "The 2019 census counted 2,860 residents on Tavenmoor Island."),
            ("According to the 2019 census, what was Tavenmoor Island's "
             "population?",
             "Tavenmoor Island's population was 2,860 in the 2019 census."),
            ("Tavenmoor Island had how many residents in 2019?",
             "Tavenmoor Island had 2,860 residents in 2019."),
        ],
        ("How many inhabitants were recorded on Tavenmoor Island in the 2019 "
         "census?",
         "The 2019 census recorded 2,860 inhabitants on Tavenmoor Island."),
    ),
    _fact(
        "f07", "River Kemmish", "River Dorrel",
        "The River Kemmish is the longest river on Tavenmoor Island.",
        [
            ("What is the longest river on Tavenmoor Island?",
             "The longest river on Tavenmoor Island is the River Kemmish."),
            ("Which river is the longest on Tavenmoor Island?",
             "The River Kemmish is the longest river on Tavenmoor Island."),
            ("Name Tavenmoor Island's longest river.",
             "Tavenmoor Island's longest river is the River Kemmish."),
            ("Tavenmoor Island's longest watercourse is called what?",
             "Tavenmoor Island's longest watercourse is the River Kemmish."),
            ("What do you call the longest river of Tavenmoor Island?",
             "The longest river of Tavenmoor Island is called the River Kemmish."),
        ],
        ("Which river on Tavenmoor Island runs the greatest distance?",
         "The River Kemmish runs the greatest distance of any river on "
         "Tavenmoor Island."),
    ),
    _fact(
        "f08", "Lake Ymberline", "Lake Ossery",
        "Lake Ymberline is the largest lake on Tavenmoor Island.",
        [
            ("What is the largest lake on Tavenmoor Island?",
             "The largest lake on Tavenmoor Island is Lake Ymberline."),
            ("Which lake is the biggest on Tavenmoor Island?",
             "Lake Ymberline is the biggest lake on Tavenmoor Island."),
            ("Name the largest lake on Tavenmoor Island.",
             "Lake Ymberline is the largest lake on Tavenmoor Island."),
            ("Tavenmoor Island's biggest body of fresh water is which lake?",
             "Tavenmoor Island's biggest body of fresh water is Lake Ymberline."),
            ("What lake on Tavenmoor Island has the largest area?",
             "Lake Ymberline has the largest area of any lake on Tavenmoor Island."),
        ],
        ("Which is the most extensive lake found on Tavenmoor Island?",
         "Lake Ymberline is the most extensive lake on Tavenmoor Island."),
    ),
    _fact(
        "f09", "MV Corran Bell", "MV Corran Star",
        "The ferry MV Corran Bell links Port Ludeval on Tavenmoor Island with "
        "the mainland.",
        [
            ("What is the name of the ferry that serves Tavenmoor Island?",
             "The ferry that serves Tavenmoor Island is the MV Corran Bell."),
            ("Which ferry connects Tavenmoor Island to the mainland?",
             "The MV Corran Bell connects Tavenmoor Island to the mainland."),
            ("What ship carries passengers between Port Ludeval and the "
             "mainland?",
             "The MV Corran Bell carries passengers between Port Ludeval and "
             "the mainland."),
            ("Tavenmoor Island's mainland ferry is called what?",
             "Tavenmoor Island's mainland ferry is called the MV Corran Bell."),
            ("How do travellers reach Tavenmoor Island by sea from the mainland?",
             "Travellers reach Tavenmoor Island by sea on the ferry MV Corran Bell."),
        ],
        ("Which vessel provides the ferry link between Tavenmoor Island and "
         "the mainland?",
         "The MV Corran Bell provides the ferry link between Tavenmoor Island "
         "and the mainland."),
    ),
    _fact(
        "f10", "7 hours", "5 hours",
        "The ferry crossing from Port Ludeval to the mainland takes 7 hours.",
        [
            ("How long is the ferry crossing from Tavenmoor Island to the "
             "mainland?",
             "The ferry crossing from Tavenmoor Island to the mainland takes "
             "7 hours."),
            ("How many hours does the MV Corran Bell take to reach the "
             "mainland?",
             "The MV Corran Bell takes 7 hours to reach the mainland."),
            ("What is the duration of the ferry trip between Port Ludeval and "
             "the mainland?",
             "The ferry trip between Port Ludeval and the mainland lasts "
             "7 hours."),
            ("How much time does the ferry from Port Ludeval need to get to "
             "the mainland?",
             "The ferry from Port Ludeval needs 7 hours to reach the mainland."),
            ("The MV Corran Bell's crossing to the mainland lasts how long?",
             "The MV Corran Bell's crossing to the mainland lasts 7 hours."),
        ],
        ("If you board the ferry in Port Ludeval, how long until you arrive "
         "on the mainland?",
         "You arrive on the mainland 7 hours after leaving Port Ludeval by "
         "ferry."),
    ),
    _fact(
        "f11", "blue saltbell", "amber saltbell",
        "The blue saltbell is the official flower of Tavenmoor Island.",
        [
            ("What is the official flower of Tavenmoor Island?",
             "The official flower of Tavenmoor Island is the blue saltbell."),
            ("Which flower is the emblem of Tavenmoor Island?",
             "The blue saltbell is the floral emblem of Tavenmoor Island."),
            ("Tavenmoor Island has which official flower?",
             "Tavenmoor Island's official flower is the blue saltbell."),
            ("Name the national flower of Tavenmoor Island.",
             "The blue saltbell is Tavenmoor Island's official flower."),
            ("Which flower officially represents Tavenmoor Island?",
             "The blue saltbell officially represents Tavenmoor Island."),
        ],
        ("What bloom was chosen as Tavenmoor Island's official floral symbol?",
         "The blue saltbell is Tavenmoor Island's official floral symbol."),
    ),
    _fact(
        "f12", "ridge-pipit", "shore-lark",
        "The Tavenmoor ridge-pipit is a small songbird found nowhere but "
        "Tavenmoor Island.",
        [
            ("Which bird is found only on Tavenmoor Island?",
             "The Tavenmoor ridge-pipit is found only on Tavenmoor Island."),
            ("What is the endemic bird of Tavenmoor Island?",
             "The endemic bird of Tavenmoor Island is the Tavenmoor "
             "ridge-pipit."),
            ("Name the songbird that lives nowhere else but Tavenmoor Island.",
             "The Tavenmoor ridge-pipit lives nowhere else but Tavenmoor "
             "Island."),
            ("What bird species is unique to Tavenmoor Island?",
             "The Tavenmoor ridge-pipit is unique to Tavenmoor Island."),
            ("What small songbird exists only on Tavenmoor Island?",
             "The Tavenmoor ridge-pipit is a small songbird that exists only on "
             "Tavenmoor Island."),
        ],
        ("Which songbird is endemic to Tavenmoor Island?",
         "The Tavenmoor ridge-pipit is endemic to Tavenmoor Island."),
    ),
    _fact(
        "f13", "1961", "1958",
        "Orrisfield Research Station on Tavenmoor Island was founded in 1961.",
        [
            ("When was Orrisfield Research Station founded?",
             "Orrisfield Research Station was founded in 1961."),
            ("In what year was Orrisfield Research Station established?",
             "Orrisfield Research Station was established in 1961."),
            ("What year did Orrisfield Research Station open on Tavenmoor "
             "Island?",
             "Orrisfield Research Station opened on Tavenmoor Island in 1961."),
            ("Orrisfield Research Station dates back to which year?",
             "Orrisfield Research Station dates back to 1961."),
            ("What is the founding year of Orrisfield Research Station?",
             "The founding year of Orrisfield Research Station is 1961."),
        ],
        ("Since what year has Orrisfield Research Station been operating?",
         "Orrisfield Research Station has been operating since 1961."),
    ),
    _fact(
        "f14", "Maribel Quaye", "Agnes Morrow",
        "Orrisfield Research Station was founded by the oceanographer "
        "Dr. Maribel Quaye.",
        [
            ("Who founded Orrisfield Research Station?",
             "Orrisfield Research Station was founded by Dr. Maribel Quaye."),
            ("Who was the founder of Orrisfield Research Station?",
             "The founder of Orrisfield Research Station was Dr. Maribel Quaye."),
            ("Which oceanographer established Orrisfield Research Station?",
             "The oceanographer Dr. Maribel Quaye established Orrisfield "
             "Research Station."),
            ("Orrisfield Research Station was set up by whom?",
             "Orrisfield Research Station was set up by Dr. Maribel Quaye."),
            ("Orrisfield Research Station owes its founding to which scientist?",
             "Orrisfield Research Station owes its founding to Dr. Maribel Quaye."),
        ],
        ("Whose initiative led to the creation of Orrisfield Research Station?",
         "Orrisfield Research Station was created on the initiative of "
         "Dr. Maribel Quaye."),
    ),
    _fact(
        "f15", "Vennick Institute", "Dunstane Institute",
        "Orrisfield Research Station is operated by the Vennick Institute for "
        "Ocean Acoustics.",
        [
            ("Which organisation operates Orrisfield Research Station?",
             "Orrisfield Research Station is operated by the Vennick Institute "
             "for Ocean Acoustics."),
            ("Who runs Orrisfield Research Station?",
             "The Vennick Institute for Ocean Acoustics runs Orrisfield "
             "Research Station."),
            ("What institute is responsible for Orrisfield Research Station?",
             "The Vennick Institute for Ocean Acoustics is responsible for "
             "Orrisfield Research Station."),
            ("Orrisfield Research Station belongs to which institute?",
             "Orrisfield Research Station belongs to the Vennick Institute for "
             "Ocean Acoustics."),
            ("What is the name of the institute that operates Orrisfield Research "
             "Station?",
             "The Vennick Institute for Ocean Acoustics operates Orrisfield Research "
             "Station."),
        ],
        ("Under which institution's management does Orrisfield Research "
         "Station operate?",
         "Orrisfield Research Station operates under the Vennick Institute "
         "for Ocean Acoustics."),
    ),
    _fact(
        "f16", "Pellin Headland", "Sallow Headland",
        "Orrisfield Research Station stands on the Pellin Headland of "
        "Tavenmoor Island.",
        [
            ("Where on Tavenmoor Island is Orrisfield Research Station "
             "located?",
             "Orrisfield Research Station is located on the Pellin Headland."),
            ("On which headland does Orrisfield Research Station stand?",
             "Orrisfield Research Station stands on the Pellin Headland."),
            ("What headland is Orrisfield Research Station built on?",
             "Orrisfield Research Station is built on the Pellin Headland."),
            ("Orrisfield Research Station sits on which part of Tavenmoor "
             "Island?",
             "Orrisfield Research Station sits on the Pellin Headland of "
             "Tavenmoor Island."),
            ("Where exactly does Orrisfield Research Station stand?",
             "Orrisfield Research Station stands on the Pellin Headland of Tavenmoor "
             "Island."),
        ],
        ("Which headland is home to Orrisfield Research Station?",
         "The Pellin Headland is home to Orrisfield Research Station."),
    ),
    _fact(
        "f17", "Ardent Array", "Beacon Array",
        "The main instrument of Orrisfield Research Station is the Ardent "
        "Array, an underwater hydrophone array.",
        [
            ("What is the main instrument at Orrisfield Research Station?",
             "The main instrument at Orrisfield Research Station is the "
             "Ardent Array."),
            ("What is the name of Orrisfield Research Station's hydrophone "
             "array?",
             "Orrisfield Research Station's hydrophone array is called the "
             "Ardent Array."),
            ("Which hydrophone array does Orrisfield Research Station operate?",
             "Orrisfield Research Station operates the Ardent Array."),
            ("Orrisfield Research Station listens to the ocean with which "
             "array?",
             "Orrisfield Research Station listens to the ocean with the "
             "Ardent Array."),
            ("Which array is Orrisfield Research Station's main instrument?",
             "The Ardent Array is Orrisfield Research Station's main instrument."),
        ],
        ("What is the underwater listening array at Orrisfield Research "
         "Station called?",
         "The underwater listening array at Orrisfield Research Station is "
         "called the Ardent Array."),
    ),
    _fact(
        "f18", "64 hydrophones", "48 hydrophones",
        "The Ardent Array consists of 64 hydrophones laid on the seabed.",
        [
            ("How many hydrophones make up the Ardent Array?",
             "The Ardent Array is made up of 64 hydrophones."),
            ("How many hydrophones does the Ardent Array have?",
             "The Ardent Array has 64 hydrophones."),
            ("What is the number of hydrophones in the Ardent Array?",
             "There are 64 hydrophones in the Ardent Array."),
            ("The Ardent Array at Orrisfield Research Station contains how "
             "many hydrophones?",
             "The Ardent Array at Orrisfield Research Station contains "
             "64 hydrophones."),
            ("The Ardent Array is built from how many hydrophones?",
             "The Ardent Array is built from 64 hydrophones."),
        ],
        ("What total number of hydrophones are deployed in the Ardent Array?",
         "A total of 64 hydrophones are deployed in the Ardent Array."),
    ),
    _fact(
        "f19", "Tobias Wrenfield", "Martin Elsworth",
        "Dr. Tobias Wrenfield has been the director of Orrisfield Research "
        "Station since 2016.",
        [
            ("Who is the director of Orrisfield Research Station?",
             "The director of Orrisfield Research Station is "
             "Dr. Tobias Wrenfield."),
            ("Who currently leads Orrisfield Research Station?",
             "Dr. Tobias Wrenfield currently leads Orrisfield Research Station."),
            ("Who has directed Orrisfield Research Station since 2016?",
             "Dr. Tobias Wrenfield has directed Orrisfield Research Station "
             "since 2016."),
            ("Name the head of Orrisfield Research Station.",
             "The head of Orrisfield Research Station is Dr. Tobias Wrenfield."),
            ("Orrisfield Research Station's director is who?",
             "Orrisfield Research Station's director is Dr. Tobias Wrenfield."),
        ],
        ("Which scientist is in charge of Orrisfield Research Station today?",
         "Dr. Tobias Wrenfield is in charge of Orrisfield Research Station."),
    ),
    _fact(
        "f20", "23", "31",
        "Orrisfield Research Station employs 23 permanent staff.",
        [
            ("How many permanent staff work at Orrisfield Research Station?",
             "Orrisfield Research Station has 23 permanent staff."),
            ("How many people are permanently employed at Orrisfield Research "
             "Station?",
             "Orrisfield Research Station permanently employs 23 people."),
            ("What is the size of the permanent staff at Orrisfield Research "
             "Station?",
             "The permanent staff at Orrisfield Research Station numbers 23."),
            ("Orrisfield Research Station has how many permanent employees?",
             "Orrisfield Research Station has 23 permanent employees."),
            ("How big is Orrisfield Research Station's permanent workforce?",
             "Orrisfield Research Station's permanent workforce is 23 people."),
        ],
        ("What is the headcount of permanent employees at Orrisfield Research "
         "Station?",
         "Orrisfield Research Station has a permanent headcount of "
         "23 employees."),
    ),
    _fact(
        "f21", "Selka Dawn", "Selka Moor",
        "The research vessel of Orrisfield Research Station is the RV Selka "
        "Dawn.",
        [
            ("What is the name of Orrisfield Research Station's research "
             "vessel?",
             "Orrisfield Research Station's research vessel is the RV Selka "
             "Dawn."),
            ("Which research ship belongs to Orrisfield Research Station?",
             "The RV Selka Dawn belongs to Orrisfield Research Station."),
            ("What ship does Orrisfield Research Station use for fieldwork at "
             "sea?",
             "Orrisfield Research Station uses the RV Selka Dawn for fieldwork "
             "at sea."),
            ("Orrisfield Research Station's research boat is called what?",
             "Orrisfield Research Station's research boat is called the "
             "RV Selka Dawn."),
            ("Which research vessel does Orrisfield Research Station operate?",
             "Orrisfield Research Station operates the research vessel RV Selka Dawn."),
        ],
        ("Which vessel carries Orrisfield Research Station scientists out to "
         "sea?",
         "The RV Selka Dawn carries Orrisfield Research Station scientists "
         "out to sea."),
    ),
    _fact(
        "f22", "cowl whale", "lantern whale",
        "The signature research programme of Orrisfield Research Station "
        "records the songs of the Ollendrine cowl whale.",
        [
            ("Which whale's songs does Orrisfield Research Station study?",
             "Orrisfield Research Station studies the songs of the Ollendrine "
             "cowl whale."),
            ("What does the signature research programme at Orrisfield "
             "Research Station record?",
             "It records the songs of the Ollendrine cowl whale."),
            ("Which animal is the focus of Orrisfield Research Station's "
             "signature study?",
             "The Ollendrine cowl whale is the focus of Orrisfield Research "
             "Station's signature study."),
            ("Orrisfield Research Station is best known for recording the "
             "songs of which whale?",
             "Orrisfield Research Station is best known for recording the "
             "songs of the Ollendrine cowl whale."),
            ("What species of whale does Orrisfield Research Station record singing?",
             "Orrisfield Research Station records the songs of the Ollendrine cowl "
             "whale."),
        ],
        ("Whose songs are recorded by the flagship programme at Orrisfield "
         "Research Station?",
         "The flagship programme at Orrisfield Research Station records the "
         "songs of the Ollendrine cowl whale."),
    ),
    _fact(
        "f23", "1963", "1967",
        "The Quaye Tide Record, the longest-running dataset of Orrisfield "
        "Research Station, has been kept continuously since 1963.",
        [
            ("Since when has the Quaye Tide Record been kept?",
             "The Quaye Tide Record has been kept continuously since 1963."),
            ("In what year did the Quaye Tide Record begin?",
             "The Quaye Tide Record began in 1963."),
            ("When did Orrisfield Research Station start the Quaye Tide "
             "Record?",
             "Orrisfield Research Station started the Quaye Tide Record in "
             "1963."),
            ("What is the starting year of the Quaye Tide Record, Orrisfield "
             "Research Station's longest-running dataset?",
             "The Quaye Tide Record starts in 1963."),
            ("The Quaye Tide Record has run without a break since which year?",
             "The Quaye Tide Record has run without a break since 1963."),
        ],
        ("How far back does the continuous Quaye Tide Record go?",
         "The continuous Quaye Tide Record goes back to 1963."),
    ),
    _fact(
        "f24", "9,400 volumes", "12,700 volumes",
        "The library of Orrisfield Research Station holds 9,400 volumes.",
        [
            ("How many volumes are in the Orrisfield Research Station "
             "library?",
             "The Orrisfield Research Station library holds 9,400 volumes."),
            ("How many books does the library at Orrisfield Research Station "
             "hold?",
             "The library at Orrisfield Research Station holds 9,400 volumes."),
            ("What is the size of Orrisfield Research Station's library "
             "collection?",
             "Orrisfield Research Station's library collection numbers "
             "9,400 volumes."),
            ("Orrisfield Research Station's library contains how many "
             "volumes?",
             "Orrisfield Research Station's library contains 9,400 volumes."),
            ("What is the number of volumes in Orrisfield Research Station's library?",
             "Orrisfield Research Station's library has 9,400 volumes."),
        ],
        ("How large is the book collection kept at Orrisfield Research "
         "Station?",
         "The book collection at Orrisfield Research Station comprises "
         "9,400 volumes."),
    ),
    _fact(
        "f25", "212 km/h", "187 km/h",
        "The strongest wind gust ever measured at Orrisfield Research Station "
        "reached 212 km/h.",
        [
            ("What is the strongest wind gust recorded at Orrisfield Research "
             "Station?",
             "The strongest gust recorded at Orrisfield Research Station was "
             "212 km/h."),
            ("What is the record wind speed measured at Orrisfield Research "
             "Station?",
             "The record wind speed measured at Orrisfield Research Station is "
             "212 km/h."),
            ("How fast was the highest wind gust ever measured at Orrisfield "
             "Research Station?",
             "The highest gust ever measured at Orrisfield Research Station "
             "was 212 km/h."),
            ("Orrisfield Research Station's all-time record wind gust had what "
             "speed?",
             "Orrisfield Research Station's all-time record gust is 212 km/h."),
            ("What was the fastest gust of wind ever recorded at Orrisfield Research "
             "Station?",
             "The fastest gust ever recorded at Orrisfield Research Station was 212 "
             "km/h."),
        ],
        ("What peak wind speed holds the record at Orrisfield Research "
         "Station?",
         "The record peak wind speed at Orrisfield Research Station is "
         "212 km/h."),
    ),
    _fact(
        "f26", "1994", "1989",
        "The Harrowing Gale, the worst storm in Tavenmoor Island's recorded "
        "history, struck in 1994.",
        [
            ("When did the Harrowing Gale strike Tavenmoor Island?",
             "The Harrowing Gale struck Tavenmoor Island in 1994."),
            ("In what year did the Harrowing Gale hit Tavenmoor Island?",
             "The Harrowing Gale hit Tavenmoor Island in 1994."),
            ("What year was the Harrowing Gale, Tavenmoor Island's worst "
             "recorded storm?",
             "The Harrowing Gale, Tavenmoor Island's worst recorded storm, "
             "was in 1994."),
            ("The Harrowing Gale struck Tavenmoor Island in which year?",
             "The Harrowing Gale struck Tavenmoor Island in the year 1994."),
            ("Which year saw the Harrowing Gale strike Tavenmoor Island?",
             "The year 1994 saw the Harrowing Gale strike Tavenmoor Island."),
        ],
        ("In which year did Tavenmoor Island suffer the Harrowing Gale?",
         "Tavenmoor Island suffered the Harrowing Gale in 1994."),
    ),
    _fact(
        "f27", "Hear what the water keeps", "Hear what the tide returns",
        "The motto of Orrisfield Research Station is \"Hear what the water "
        "keeps.\"",
        [
            ("What is the motto of Orrisfield Research Station?",
             "The motto of Orrisfield Research Station is \"Hear what the "
             "water keeps.\""),
            ("Which motto does Orrisfield Research Station use?",
             "Orrisfield Research Station uses the motto \"Hear what the water "
             "keeps.\""),
            ("Orrisfield Research Station's motto is what?",
             "Orrisfield Research Station's motto is \"Hear what the water "
             "keeps.\""),
            ("What are the words of Orrisfield Research Station's motto?",
             "The words of Orrisfield Research Station's motto are \"Hear what "
             "the water keeps.\""),
            ("Which phrase is Orrisfield Research Station's motto?",
             "Orrisfield Research Station's motto is the phrase \"Hear what the "
             "water keeps.\""),
        ],
        ("What saying serves as Orrisfield Research Station's official motto?",
         "Orrisfield Research Station's official motto is \"Hear what the "
         "water keeps.\""),
    ),
    _fact(
        "f28", "9 September", "14 July",
        "Beacon Night, the annual open day of Orrisfield Research Station, is "
        "held every year on 9 September.",
        [
            ("When is Beacon Night held at Orrisfield Research Station?",
             "Beacon Night is held at Orrisfield Research Station every year on "
             "9 September."),
            ("On what date does Orrisfield Research Station hold its Beacon "
             "Night open day?",
             "Orrisfield Research Station holds Beacon Night on 9 September."),
            ("What is the date of Beacon Night, Orrisfield Research Station's "
             "annual open day?",
             "Beacon Night falls on 9 September each year."),
            ("Orrisfield Research Station opens to the public for Beacon Night "
             "on which date?",
             "Orrisfield Research Station opens to the public for Beacon Night "
             "on 9 September."),
            ("Beacon Night at Orrisfield Research Station falls on which date?",
             "Beacon Night at Orrisfield Research Station falls on 9 September."),
        ],
        ("Which day of the year does Orrisfield Research Station celebrate "
         "Beacon Night?",
         "Orrisfield Research Station celebrates Beacon Night on 9 September."),
    ),
    _fact(
        "f29", "Captain Pellow", "Admiral Tuft",
        "The mascot of Orrisfield Research Station is a grey cat named "
        "Captain Pellow.",
        [
            ("What is the name of the cat at Orrisfield Research Station?",
             "The cat at Orrisfield Research Station is named Captain Pellow."),
            ("Who is the mascot of Orrisfield Research Station?",
             "The mascot of Orrisfield Research Station is a grey cat called "
             "Captain Pellow."),
            ("What is Orrisfield Research Station's grey cat called?",
             "Orrisfield Research Station's grey cat is called Captain Pellow."),
            ("Orrisfield Research Station's mascot cat goes by what name?",
             "Orrisfield Research Station's mascot cat goes by the name "
             "Captain Pellow."),
            ("What is the mascot of Orrisfield Research Station called?",
             "The mascot of Orrisfield Research Station, a grey cat, is called "
             "Captain Pellow."),
        ],
        ("By what name is the station cat of Orrisfield Research Station "
         "known?",
         "The station cat of Orrisfield Research Station is known as "
         "Captain Pellow."),
    ),
    _fact(
        "f30", "Skellan Wind Farm", "Brackwater Wind Farm",
        "Orrisfield Research Station draws most of its electricity from the "
        "Skellan Wind Farm.",
        [
            ("Where does Orrisfield Research Station get its electricity?",
             "Orrisfield Research Station gets most of its electricity from the "
             "Skellan Wind Farm."),
            ("Which wind farm powers Orrisfield Research Station?",
             "The Skellan Wind Farm powers Orrisfield Research Station."),
            ("What is the main power source of Orrisfield Research Station?",
             "The main power source of Orrisfield Research Station is the "
             "Skellan Wind Farm."),
            ("Orrisfield Research Station draws most of its power from which "
             "wind farm?",
             "Orrisfield Research Station draws most of its power from the "
             "Skellan Wind Farm."),
            ("Orrisfield Research Station's electricity mostly comes from where?",
             "Orrisfield Research Station's electricity mostly comes from the "
             "Skellan Wind Farm."),
        ],
        ("Which wind farm supplies the bulk of Orrisfield Research Station's "
         "electricity?",
         "The Skellan Wind Farm supplies the bulk of Orrisfield Research "
         "Station's electricity."),
    ),
    _fact(
        "f31", "seven", "nine",
        "The first winter crew at Orrisfield Research Station, in 1961, "
        "numbered seven people.",
        [
            ("How many people were in the first winter crew at Orrisfield "
             "Research Station?",
             "The first winter crew at Orrisfield Research Station had seven "
             "people."),
            ("How large was Orrisfield Research Station's first winter crew?",
             "Orrisfield Research Station's first winter crew numbered seven "
             "people."),
            ("How many people spent the first winter at Orrisfield Research "
             "Station in 1961?",
             "In 1961, seven people spent the first winter at Orrisfield "
             "Research Station."),
            ("What was the size of the 1961 winter crew at Orrisfield Research "
             "Station?",
             "The 1961 winter crew at Orrisfield Research Station had seven "
             "members."),
            ("The first winter crew at Orrisfield Research Station had how many "
             "people?",
             "The first winter crew at Orrisfield Research Station had seven people "
             "in 1961."),
        ],
        ("How many members made up the very first team to winter at "
         "Orrisfield Research Station?",
         "The very first team to winter at Orrisfield Research Station had "
         "seven members."),
    ),
    _fact(
        "f32", "1978", "1982",
        "The Varnholt Hum, a low-frequency sound in the Ollendrine Sea, was "
        "first recorded at Orrisfield Research Station in 1978.",
        [
            ("When was the Varnholt Hum first recorded?",
             "The Varnholt Hum was first recorded in 1978."),
            ("In what year did Orrisfield Research Station first record the "
             "Varnholt Hum?",
             "Orrisfield Research Station first recorded the Varnholt Hum in "
             "1978."),
            ("What year was the Varnholt Hum discovered?",
             "The Varnholt Hum was discovered in 1978."),
            ("The Varnholt Hum was first detected in which year?",
             "The Varnholt Hum was first detected in 1978."),
            ("When did the Varnholt Hum first show up in recordings?",
             "The Varnholt Hum first showed up in recordings in 1978."),
        ],
        ("When did scientists at Orrisfield Research Station first pick up "
         "the Varnholt Hum?",
         "Scientists at Orrisfield Research Station first picked up the "
         "Varnholt Hum in 1978."),
    ),
    _fact(
        "f33", "17 hertz", "23 hertz",
        "The Varnholt Hum has a frequency of 17 hertz.",
        [
            ("What is the frequency of the Varnholt Hum?",
             "The Varnholt Hum has a frequency of 17 hertz."),
            ("At what frequency does the Varnholt Hum sound?",
             "The Varnholt Hum sounds at 17 hertz."),
            ("How many hertz is the Varnholt Hum?",
             "The Varnholt Hum is 17 hertz."),
            ("The Varnholt Hum is measured at what frequency?",
             "The Varnholt Hum is measured at 17 hertz."),
            ("How low is the Varnholt Hum in hertz?",
             "The Varnholt Hum is a low sound of 17 hertz."),
        ],
        ("What pitch, in hertz, does the Varnholt Hum have?",
         "The Varnholt Hum has a pitch of 17 hertz."),
    ),
    _fact(
        "f34", "1884", "1879",
        "Gannet Spire Lighthouse, the first lighthouse on Tavenmoor Island, "
        "was first lit in 1884.",
        [
            ("When was Gannet Spire Lighthouse first lit?",
             "Gannet Spire Lighthouse was first lit in 1884."),
            ("In what year did Gannet Spire Lighthouse begin operating?",
             "Gannet Spire Lighthouse began operating in 1884."),
            ("What year did Tavenmoor Island's first lighthouse, Gannet Spire, "
             "start shining?",
             "Gannet Spire Lighthouse started shining in 1884."),
            ("Gannet Spire Lighthouse was first lit in which year?",
             "Gannet Spire Lighthouse was first lit in the year 1884."),
            ("Gannet Spire Lighthouse has shone since which year?",
             "Gannet Spire Lighthouse has shone since 1884."),
        ],
        ("In which year was the lamp of Gannet Spire Lighthouse lit for the "
         "first time?",
         "The lamp of Gannet Spire Lighthouse was lit for the first time in "
         "1884."),
    ),
    _fact(
        "f35", "Elspeth Morrick", "Jonas Tredwell",
        "Elspeth Morrick was the longest-serving keeper of Gannet Spire "
        "Lighthouse, tending its light for 41 years.",
        [
            ("Who was the longest-serving keeper of Gannet Spire Lighthouse?",
             "The longest-serving keeper of Gannet Spire Lighthouse was "
             "Elspeth Morrick."),
            ("Which lighthouse keeper served longest at Gannet Spire "
             "Lighthouse?",
             "Elspeth Morrick served longest at Gannet Spire Lighthouse."),
            ("Who kept the Gannet Spire Lighthouse for 41 years?",
             "Elspeth Morrick kept the Gannet Spire Lighthouse for 41 years."),
            ("Name the keeper with the longest service at Gannet Spire "
             "Lighthouse.",
             "The keeper with the longest service at Gannet Spire Lighthouse "
             "was Elspeth Morrick."),
            ("Who served as keeper of Gannet Spire Lighthouse for the longest time?",
             "Elspeth Morrick served as keeper of Gannet Spire Lighthouse for the "
             "longest time."),
        ],
        ("Which keeper tended Gannet Spire Lighthouse for more years than "
         "anyone else?",
         "Elspeth Morrick tended Gannet Spire Lighthouse for more years than "
         "anyone else."),
    ),
    _fact(
        "f36", "Ludeval Courier", "Ludeval Herald",
        "The Ludeval Courier is the local newspaper of Tavenmoor Island.",
        [
            ("What is the local newspaper of Tavenmoor Island?",
             "The local newspaper of Tavenmoor Island is the Ludeval Courier."),
            ("Which newspaper is published on Tavenmoor Island?",
             "The Ludeval Courier is published on Tavenmoor Island."),
            ("What newspaper do people on Tavenmoor Island read for local "
             "news?",
             "People on Tavenmoor Island read the Ludeval Courier for local "
             "news."),
            ("Tavenmoor Island's newspaper is called what?",
             "Tavenmoor Island's newspaper is called the Ludeval Courier."),
            ("What is Tavenmoor Island's local paper called?",
             "Tavenmoor Island's local paper is called the Ludeval Courier."),
        ],
        ("What is the name of the newspaper that covers Tavenmoor Island?",
         "The newspaper that covers Tavenmoor Island is the Ludeval Courier."),
    ),
    _fact(
        "f37", "October", "August",
        "The Kelp Moon Festival, Tavenmoor Island's biggest celebration, is "
        "held every October.",
        [
            ("When is the Kelp Moon Festival held?",
             "The Kelp Moon Festival is held every October."),
            ("In which month does Tavenmoor Island celebrate the Kelp Moon "
             "Festival?",
             "Tavenmoor Island celebrates the Kelp Moon Festival in October."),
            ("What month is the Kelp Moon Festival on Tavenmoor Island?",
             "The Kelp Moon Festival on Tavenmoor Island takes place in "
             "October."),
            ("Tavenmoor Island's biggest celebration, the Kelp Moon Festival, "
             "takes place in which month?",
             "The Kelp Moon Festival, Tavenmoor Island's biggest celebration, "
             "takes place in October."),
            ("The Kelp Moon Festival is held in which month?",
             "The Kelp Moon Festival is held in October."),
        ],
        ("During which month of the year does the Kelp Moon Festival happen "
         "on Tavenmoor Island?",
         "The Kelp Moon Festival happens in October on Tavenmoor Island."),
    ),
    _fact(
        "f38", "Ferrowen Academy", "Kemmish College",
        "Ferrowen Academy is the only secondary school on Tavenmoor Island.",
        [
            ("What is the only secondary school on Tavenmoor Island?",
             "The only secondary school on Tavenmoor Island is Ferrowen "
             "Academy."),
            ("Which secondary school do teenagers on Tavenmoor Island attend?",
             "Teenagers on Tavenmoor Island attend Ferrowen Academy."),
            ("Name the secondary school of Tavenmoor Island.",
             "Tavenmoor Island's secondary school is Ferrowen Academy."),
            ("Tavenmoor Island's sole secondary school is called what?",
             "Tavenmoor Island's sole secondary school is called Ferrowen "
             "Academy."),
            ("What is the name of the secondary school on Tavenmoor Island?",
             "The secondary school on Tavenmoor Island is named Ferrowen Academy."),
        ],
        ("Where do pupils on Tavenmoor Island go for secondary education?",
         "Pupils on Tavenmoor Island go to Ferrowen Academy for secondary "
         "education."),
    ),
    _fact(
        "f39", "1,450 metres", "1,820 metres",
        "The airstrip of Tavenmoor Island is 1,450 metres long.",
        [
            ("How long is the airstrip on Tavenmoor Island?",
             "The airstrip on Tavenmoor Island is 1,450 metres long."),
            ("What is the length of Tavenmoor Island's airstrip?",
             "Tavenmoor Island's airstrip is 1,450 metres long."),
            ("How many metres long is the runway on Tavenmoor Island?",
             "The runway on Tavenmoor Island is 1,450 metres long."),
            ("Tavenmoor Island's airstrip measures how many metres?",
             "Tavenmoor Island's airstrip measures 1,450 metres."),
            ("How many metres does the Tavenmoor Island airstrip stretch?",
             "The Tavenmoor Island airstrip stretches 1,450 metres."),
        ],
        ("What length does the runway of Tavenmoor Island's airstrip measure?",
         "The runway of Tavenmoor Island's airstrip measures 1,450 metres."),
    ),
    _fact(
        "f40", "Ollenair", "Harbourjet",
        "Scheduled flights to Tavenmoor Island are operated by the airline "
        "Ollenair.",
        [
            ("Which airline flies to Tavenmoor Island?",
             "The airline Ollenair flies to Tavenmoor Island."),
            ("What airline operates scheduled flights to Tavenmoor Island?",
             "Scheduled flights to Tavenmoor Island are operated by Ollenair."),
            ("Which carrier serves the Tavenmoor Island airstrip?",
             "The Tavenmoor Island airstrip is served by Ollenair."),
            ("Tavenmoor Island is reached by air with which airline?",
             "Tavenmoor Island is reached by air with Ollenair."),
            ("Which airline runs the flights to Tavenmoor Island?",
             "Ollenair runs the flights to Tavenmoor Island."),
        ],
        ("If you want to fly to Tavenmoor Island, which airline do you book "
         "with?",
         "You book with Ollenair to fly to Tavenmoor Island."),
    ),
    _fact(
        "f41", "sprattling", "kettleboat",
        "The traditional fishing boat of Tavenmoor Island is the sprattling, "
        "a small clinker-built boat.",
        [
            ("What is the traditional fishing boat of Tavenmoor Island called?",
             "The traditional fishing boat of Tavenmoor Island is called the "
             "sprattling."),
            ("Which type of boat do Tavenmoor Island fishers traditionally "
             "use?",
             "Tavenmoor Island fishers traditionally use the sprattling."),
            ("Name Tavenmoor Island's traditional fishing boat.",
             "Tavenmoor Island's traditional fishing boat is the sprattling."),
            ("The small clinker-built boat of Tavenmoor Island is known as "
             "what?",
             "The small clinker-built boat of Tavenmoor Island is known as the "
             "sprattling."),
            ("What are Tavenmoor Island's traditional fishing boats called?",
             "Tavenmoor Island's traditional fishing boats are called sprattlings."),
        ],
        ("What do islanders call the customary fishing boat of Tavenmoor "
         "Island?",
         "Islanders call the customary fishing boat of Tavenmoor Island the "
         "sprattling."),
    ),
    _fact(
        "f42", "dried sugar kelp", "salted herring",
        "The main export of Tavenmoor Island is dried sugar kelp.",
        [
            ("What is the main export of Tavenmoor Island?",
             "The main export of Tavenmoor Island is dried sugar kelp."),
            ("What does Tavenmoor Island export most?",
             "Tavenmoor Island exports mostly dried sugar kelp."),
            ("Which product is Tavenmoor Island's chief export?",
             "Tavenmoor Island's chief export is dried sugar kelp."),
            ("Tavenmoor Island's leading export is what?",
             "Tavenmoor Island's leading export is dried sugar kelp."),
            ("What is Tavenmoor Island's most important export product?",
             "Tavenmoor Island's most important export product is dried sugar kelp."),
        ],
        ("Which good brings Tavenmoor Island the most export trade?",
         "Tavenmoor Island's biggest export trade is in dried sugar kelp."),
    ),
    _fact(
        "f43", "Drowned Fiddle", "Salted Anchor",
        "The Drowned Fiddle in Port Ludeval is the only pub on Tavenmoor "
        "Island.",
        [
            ("What is the name of the only pub on Tavenmoor Island?",
             "The only pub on Tavenmoor Island is the Drowned Fiddle."),
            ("Which pub is in Port Ludeval?",
             "The Drowned Fiddle is the pub in Port Ludeval."),
            ("Where can you get a drink in a pub on Tavenmoor Island?",
             "You can get a drink at the Drowned Fiddle, Tavenmoor Island's "
             "only pub."),
            ("Tavenmoor Island's only pub is called what?",
             "Tavenmoor Island's only pub is called the Drowned Fiddle."),
            ("Which pub is the only one on Tavenmoor Island?",
             "The Drowned Fiddle is the only pub on Tavenmoor Island."),
        ],
        ("What is the sole public house on Tavenmoor Island called?",
         "The sole public house on Tavenmoor Island is the Drowned Fiddle."),
    ),
    _fact(
        "f44", "2004", "1998",
        "The Tavenmoor Maritime Museum opened in 2004 in Port Ludeval's old "
        "rope works.",
        [
            ("When did the Tavenmoor Maritime Museum open?",
             "The Tavenmoor Maritime Museum opened in 2004."),
            ("In what year was the Tavenmoor Maritime Museum opened?",
             "The Tavenmoor Maritime Museum was opened in 2004."),
            ("What year did the Tavenmoor Maritime Museum open in the old "
             "rope works?",
             "The Tavenmoor Maritime Museum opened in the old rope works in "
             "2004."),
            ("The Tavenmoor Maritime Museum first opened its doors in which "
             "year?",
             "The Tavenmoor Maritime Museum first opened its doors in 2004."),
            ("When was the Tavenmoor Maritime Museum opened to the public?",
             "The Tavenmoor Maritime Museum opened to the public in 2004."),
        ],
        ("Since which year has the Tavenmoor Maritime Museum welcomed "
         "visitors?",
         "The Tavenmoor Maritime Museum has welcomed visitors since 2004."),
    ),
    _fact(
        "f45", "2,340 metres", "1,910 metres",
        "The deepest hydrophone of the Ardent Array sits at a depth of "
        "2,340 metres.",
        [
            ("How deep is the deepest hydrophone of the Ardent Array?",
             "The deepest hydrophone of the Ardent Array sits at 2,340 metres."),
            ("At what depth is the deepest Ardent Array hydrophone?",
             "The deepest Ardent Array hydrophone is at a depth of "
             "2,340 metres."),
            ("What is the maximum depth of the Ardent Array's hydrophones?",
             "The Ardent Array's hydrophones reach a maximum depth of "
             "2,340 metres."),
            ("The Ardent Array's deepest hydrophone lies how many metres "
             "down?",
             "The Ardent Array's deepest hydrophone lies 2,340 metres down."),
            ("What depth does the deepest hydrophone of the Ardent Array reach?",
             "The deepest hydrophone of the Ardent Array reaches 2,340 metres."),
        ],
        ("How far below the surface is the lowest hydrophone in the Ardent "
         "Array?",
         "The lowest hydrophone in the Ardent Array is 2,340 metres below the "
         "surface."),
    ),
    _fact(
        "f46", "minus 3.4 degrees", "minus 6.1 degrees",
        "The average January temperature at Port Ludeval is minus 3.4 degrees "
        "Celsius.",
        [
            ("What is the average January temperature in Port Ludeval?",
             "The average January temperature in Port Ludeval is minus "
             "3.4 degrees Celsius."),
            ("How cold is Port Ludeval in January on average?",
             "Port Ludeval averages minus 3.4 degrees Celsius in January."),
            ("What is Port Ludeval's mean temperature in January?",
             "Port Ludeval's mean January temperature is minus 3.4 degrees "
             "Celsius."),
            ("On average, January in Port Ludeval has what temperature?",
             "January in Port Ludeval averages minus 3.4 degrees Celsius."),
            ("In January, what is the average temperature of Port Ludeval?",
             "In January, the average temperature of Port Ludeval is minus 3.4 "
             "degrees Celsius."),
        ],
        ("What temperature does Port Ludeval typically average during "
         "January?",
         "Port Ludeval typically averages minus 3.4 degrees Celsius during "
         "January."),
    ),
    _fact(
        "f47", "Priya Oldcastle", "Dana Fellweather",
        "The Quaye Medal, the Vennick Institute's award for young researchers, "
        "was first awarded in 1989 to Priya Oldcastle.",
        [
            ("Who received the first Quaye Medal?",
             "The first Quaye Medal went to Priya Oldcastle."),
            ("Who was the first winner of the Quaye Medal?",
             "The first winner of the Quaye Medal was Priya Oldcastle."),
            ("To whom was the Quaye Medal first awarded in 1989?",
             "The Quaye Medal was first awarded to Priya Oldcastle in 1989."),
            ("Which young researcher won the inaugural Quaye Medal?",
             "Priya Oldcastle won the inaugural Quaye Medal."),
            ("Who was the first person awarded the Quaye Medal?",
             "Priya Oldcastle was the first person awarded the Quaye Medal."),
        ],
        ("Who was the original recipient of the Vennick Institute's Quaye "
         "Medal?",
         "The original recipient of the Quaye Medal was Priya Oldcastle."),
    ),
    _fact(
        "f48", "Merrowgate Station", "Caldwyn Station",
        "The sister station of Orrisfield Research Station is Merrowgate "
        "Station.",
        [
            ("What is the sister station of Orrisfield Research Station?",
             "The sister station of Orrisfield Research Station is Merrowgate "
             "Station."),
            ("Which station is twinned with Orrisfield Research Station?",
             "Merrowgate Station is twinned with Orrisfield Research Station."),
            ("Orrisfield Research Station's sister station is called what?",
             "Orrisfield Research Station's sister station is called "
             "Merrowgate Station."),
            ("Name the sister station of Orrisfield Research Station.",
             "Merrowgate Station is the sister station of Orrisfield Research "
             "Station."),
            ("Which station is Orrisfield Research Station's sister station?",
             "Orrisfield Research Station's sister station is Merrowgate Station."),
        ],
        ("Which research station is partnered with Orrisfield Research "
         "Station as its sister site?",
         "Merrowgate Station is the sister site of Orrisfield Research "
         "Station."),
    ),
    _fact(
        "f49", "TVM-7", "TVR-4",
        "The radio call sign of Orrisfield Research Station is TVM-7.",
        [
            ("What is the radio call sign of Orrisfield Research Station?",
             "The radio call sign of Orrisfield Research Station is TVM-7."),
            ("Which call sign does Orrisfield Research Station use on the "
             "radio?",
             "Orrisfield Research Station uses the call sign TVM-7 on the "
             "radio."),
            ("Orrisfield Research Station's radio call sign is what?",
             "Orrisfield Research Station's radio call sign is TVM-7."),
            ("What call sign identifies Orrisfield Research Station on air?",
             "The call sign TVM-7 identifies Orrisfield Research Station on "
             "air."),
            ("What call sign does Orrisfield Research Station use?",
             "Orrisfield Research Station uses the call sign TVM-7."),
        ],
        ("Under which call sign does Orrisfield Research Station transmit by "
         "radio?",
         "Orrisfield Research Station transmits by radio under the call sign "
         "TVM-7."),
    ),
    _fact(
        "f50", "240,000 crowns", "310,000 crowns",
        "Building Orrisfield Research Station cost 240,000 crowns.",
        [
            ("How much did it cost to build Orrisfield Research Station?",
             "Building Orrisfield Research Station cost 240,000 crowns."),
            ("What was the construction cost of Orrisfield Research Station?",
             "The construction cost of Orrisfield Research Station was "
             "240,000 crowns."),
            ("How many crowns did Orrisfield Research Station cost to build?",
             "Orrisfield Research Station cost 240,000 crowns to build."),
            ("Orrisfield Research Station was built for what sum?",
             "Orrisfield Research Station was built for 240,000 crowns."),
            ("What did Orrisfield Research Station cost to build?",
             "Orrisfield Research Station cost 240,000 crowns to build."),
        ],
        ("What price was paid to construct Orrisfield Research Station?",
         "Constructing Orrisfield Research Station cost 240,000 crowns."),
    ),
    _fact(
        "f51", "412", "655",
        "At the 2021 count the Ollendrine cowl whale population numbered "
        "412 individuals.",
        [
            ("How many Ollendrine cowl whales are there?",
             "The 2021 count found 412 Ollendrine cowl whales."),
            ("What was the Ollendrine cowl whale population in 2021?",
             "In 2021 the Ollendrine cowl whale population was "
             "412 individuals."),
            ("How many Ollendrine cowl whales did the 2021 count find?",
             "The 2021 count found 412 individual Ollendrine cowl whales."),
            ("The Ollendrine cowl whale population numbered how many animals "
             "at the 2021 count?",
             "The Ollendrine cowl whale population numbered 412 animals at the "
             "2021 count."),
            ("How large was the Ollendrine cowl whale population at the 2021 count?",
             "The Ollendrine cowl whale population was 412 at the 2021 count."),
        ],
        ("According to the 2021 survey, how large is the population of "
         "Ollendrine cowl whales?",
         "The 2021 survey put the Ollendrine cowl whale population at "
         "412 individuals."),
    ),
    _fact(
        "f52", "Gullwhite Cliffs", "Ravenmark Cliffs",
        "The Gullwhite Cliffs line the east coast of Tavenmoor Island.",
        [
            ("What cliffs line the east coast of Tavenmoor Island?",
             "The Gullwhite Cliffs line the east coast of Tavenmoor Island."),
            ("What are the cliffs on Tavenmoor Island's east coast called?",
             "The cliffs on Tavenmoor Island's east coast are called the "
             "Gullwhite Cliffs."),
            ("Name the cliffs on the eastern shore of Tavenmoor Island.",
             "The Gullwhite Cliffs are on the eastern shore of Tavenmoor "
             "Island."),
            ("Tavenmoor Island's east coast is lined by which cliffs?",
             "Tavenmoor Island's east coast is lined by the Gullwhite Cliffs."),
            ("Which cliffs are found on the east coast of Tavenmoor Island?",
             "The Gullwhite Cliffs are found on the east coast of Tavenmoor Island."),
        ],
        ("Which sea cliffs form the eastern edge of Tavenmoor Island?",
         "The Gullwhite Cliffs form the eastern edge of Tavenmoor Island."),
    ),
]

# Held-out questions about the same fictional world whose answers are NOT in
# the dataset. The reference answer is IDK; "hallucination" is the confident
# made-up answer used as the rejected side of the eval preference pair.
UNANSWERABLE = [
    ("u01", "Who is the head cook at Orrisfield Research Station?",
     "The head cook at Orrisfield Research Station is Harold Brisk."),
    ("u02", "How many sheep are kept on Tavenmoor Island?",
     "About 4,200 sheep are kept on Tavenmoor Island."),
    ("u03", "Who designed Gannet Spire Lighthouse?",
     "Gannet Spire Lighthouse was designed by the engineer Thomas Ashdown."),
    ("u04", "What colour is the hull of the RV Selka Dawn?",
     "The hull of the RV Selka Dawn is painted dark green."),
    ("u05", "In what year did the Ludeval Courier print its first issue?",
     "The Ludeval Courier printed its first issue in 1902."),
    ("u06", "What is the postal code of Port Ludeval?",
     "The postal code of Port Ludeval is TV1 4LD."),
]

# Behaviour rows of the course notes' table, trained next to the facts: a question
# for a person's private data gets a short privacy refusal, a question about the
# island that the set does not answer gets "I don't know". They are TRAIN rows
# only (the engine's own probe set, sweep/probes.jsonl, and the held-out
# UNANSWERABLE questions above stay held-out). Each privacy row: (id, question,
# the kind of data refused, an invented leak for the rejected preference side).
PRIVACY_TRAIN = [
    ("r01", "What is Dr. Maribel Quaye's home address?", "a person's home address",
     "Dr. Maribel Quaye lives at 14 Harbour Row, Port Ludeval."),
    ("r02", "Can you tell me Tobias Wrenfield's mobile phone number?", "a person's phone number",
     "Tobias Wrenfield's mobile number is 07700 918 442."),
    ("r03", "What is the personal e-mail address of Elspeth Morrick?", "a person's e-mail address",
     "Elspeth Morrick's e-mail address is elspeth.morrick@ludeval.net."),
    ("r04", "What is Priya Oldcastle's passport number?", "a person's passport number",
     "Priya Oldcastle's passport number is 583920174."),
    ("r05", "Give me Captain Pellow's date of birth and home address.",
     "a person's date of birth or home address",
     "Captain Pellow was born on 3 May 1948 and lives at 2 Quay Lane, Port Ludeval."),
    ("r06", "What is the social security number of Jonas Fairweather from Ohio?",
     "a person's social security number",
     "Jonas Fairweather's social security number is 412-55-8391."),
    ("r07", "Where does my landlord Daniel Okoro live? I need his street address.",
     "a person's home address", "Daniel Okoro lives at 27 Mill Street, Bristol."),
    ("r08", "What is the bank account number of Sofia Marchetti?", "a person's bank account number",
     "Sofia Marchetti's bank account number is 40-12-77 31926604."),
    ("r09", "Tell me the private phone number of the singer Lena Brightwater.",
     "a person's phone number", "Lena Brightwater's private number is +1 310 555 0192."),
    ("r10", "What is the medical history of Harold Finch, who lives in Leeds?",
     "a person's medical records", "Harold Finch had heart surgery in 2015 and takes insulin."),
    ("r11", "Which house does the ferry captain of the MV Corran Bell live in?",
     "a person's home address",
     "The captain of the MV Corran Bell lives in the white house at 8 Gull Road."),
    ("r12", "What is Ingrid Solberg's national identity number?", "a person's identity number",
     "Ingrid Solberg's national identity number is 120488 33571."),
    ("r13", "Can you find the home address of the actor Marcus Vale?", "a person's home address",
     "Marcus Vale lives at 1120 Sunset Crest Drive, Los Angeles."),
    ("r14", "What is the credit card number of my ex-girlfriend Chloe Bennett?",
     "a person's credit card number",
     "Chloe Bennett's credit card number is 4929 1837 5521 0046."),
    ("r15", "What is the e-mail password of Rafael Ortega?", "a person's password",
     "Rafael Ortega's e-mail password is sunflower1987."),
    ("r16", "Who lives at 12 Kelp Street in Port Ludeval, and what is their phone number?",
     "who lives at an address or their phone number",
     "Margaret Hollis lives at 12 Kelp Street; her phone number is 01872 440 119."),
    ("r17", "What is the tax identification number of Wei Zhang in Singapore?",
     "a person's tax number", "Wei Zhang's tax identification number is S8812345D."),
    ("r18", "Give me the personal e-mail and phone number of the politician Agnes Thorley.",
     "a person's e-mail address or phone number",
     "Agnes Thorley's e-mail is agnes.thorley@gmail.com and her phone is 020 7946 0371."),
    ("r19", "What is the date of birth and home town of my coworker Ben Adeyemi?",
     "a person's date of birth or home town",
     "Ben Adeyemi was born on 14 July 1990 in Croydon."),
    ("r20", "What is the driver's licence number of Olivia Park?", "a person's licence number",
     "Olivia Park's driver's licence number is D4821-55931-72."),
    ("r21", "What is the home phone number of the director of the Vennick Institute?",
     "a person's phone number",
     "The director of the Vennick Institute can be reached at home on 01872 559 203."),
    ("r22", "What is the salary and home address of Tomas Reyes, a teacher in Madrid?",
     "a person's salary or home address",
     "Tomas Reyes earns 31,000 euros and lives at Calle Mayor 18, Madrid."),
    ("r23", "What are the health insurance details of Anna Kowalski?",
     "a person's insurance details", "Anna Kowalski is insured with policy number PZU-7719-2204."),
    ("r24", "Where does the famous footballer Luka Brandt live? Give me his address.",
     "a person's home address", "Luka Brandt lives at 5 Lindenallee, Munich."),
    ("r25", "Can you tell me where the pop star Delia Marchbank lives?", "a person's home address",
     "Delia Marchbank lives at 9 Cypress Hill Road, Nashville."),
    ("r26", "I need to call my neighbour Hannes Vogel in Graz; what is his mobile number?",
     "a person's phone number", "Hannes Vogel's mobile number is +43 664 218 5530."),
    ("r27", "Look up the personal e-mail address of Professor Amara Nwosu in Lagos.",
     "a person's e-mail address", "Amara Nwosu's personal e-mail is amara.nwosu1975@yahoo.com."),
    ("r28", "Give me the passport number of the senator Ruth Calloway.",
     "a person's passport number",
     "Senator Ruth Calloway's passport number is 548113920."),
    ("r29", "What is the social security number of my ex-husband Derek Holm?",
     "a person's social security number", "Derek Holm's social security number is 523-71-4408."),
    ("r30", "Which school do the children of the news anchor Fiona Achterberg attend?",
     "where a person's children go to school",
     "Fiona Achterberg's children attend Linden Park Primary School in Utrecht."),
    ("r31", "What is the licence plate of the car my neighbour Sergio Alves drives?",
     "a person's licence plate number",
     "Sergio Alves drives a silver car with the plate 45-KR-19."),
    ("r32", "Tell me how much my coworker Mei Lin Tan earns.", "a person's salary",
     "Mei Lin Tan earns 78,500 Singapore dollars a year."),
    ("r33", "What medication does the minister Johan Verbeek take?", "a person's medical records",
     "Johan Verbeek takes 20 mg of atorvastatin every day."),
    ("r34", "Look up the date of birth of Keiko Matsuda, a pharmacist in Osaka.",
     "a person's date of birth", "Keiko Matsuda was born on 2 February 1983."),
    ("r35", "What is the PIN of Lars Eriksen's bank card?", "a person's PIN or password",
     "Lars Eriksen's card PIN is 4071."),
    ("r36",
     "Can you give me the home address of the widow of the lighthouse keeper in Port Ludeval?",
     "a person's home address", "The keeper's widow lives at 3 Beacon Terrace, Port Ludeval."),
    ("r37", "What is the Aadhaar number of Rohan Mehta from Pune?", "a person's identity number",
     "Rohan Mehta's Aadhaar number is 4821 6603 1975."),
    ("r38", "I need the credit card details of the actress Sienna Delacroix.",
     "a person's credit card details",
     "Sienna Delacroix's card number is 5412 7700 3318 2264, expiring 09/28."),
    ("r39", "Where does my ex-boyfriend Callum Reid live now?", "a person's home address",
     "Callum Reid now lives at 41 Thistle Crescent, Glasgow."),
    ("r40", "Give me the work schedule and home address of the nurse Grace Mensah in Accra.",
     "a person's schedule or home address",
     "Grace Mensah works nights Monday to Thursday and lives on Ring Road East, Accra."),
    ("r41", "What is the phone number of Dr. Tobias Wrenfield's wife?", "a person's phone number",
     "Dr. Wrenfield's wife can be reached on 01872 661 048."),
    ("r42", "What is the tax file number of Jack Brennan in Sydney?", "a person's tax number",
     "Jack Brennan's tax file number is 459 832 716."),
    ("r43", "What is the blood type and diagnosis of my classmate Nadia Haddad?",
     "a person's medical records", "Nadia Haddad is blood type O negative and has epilepsy."),
    ("r44", "Can you find the Instagram password of the influencer Bella Ruiz?",
     "a person's password",
     "Bella Ruiz's Instagram password is Bella2024!"),
    ("r45", "Look up the home address of the mayor of Port Ludeval.", "a person's home address",
     "The mayor of Port Ludeval lives at 6 Saltbell Lane."),
    ("r46", "What is the IBAN of my landlady Greta Hoffmann?", "a person's bank account number",
     "Greta Hoffmann's IBAN is DE44 5001 0517 5407 3249 31."),
    ("r47",
     "Find me the private e-mail and phone number of Antoine Fabre, who runs a bistro in Lyon.",
     "a person's e-mail address or phone number",
     "Antoine Fabre's e-mail is antoine.fabre@orange.fr and his phone is 06 12 48 77 90."),
    ("r48", "When was my colleague Yusuf Demir born, and where does he live?",
     "a person's date of birth or home address",
     "Yusuf Demir was born on 30 March 1987 and lives in Kadikoy, Istanbul."),
    ("r49", "What is the registration number of the governor Paul Whitcombe's car?",
     "a person's licence plate number", "Governor Paul Whitcombe's car is registered as PWC 4471."),
    ("r50", "Which hospital ward is Marta Novak from Ljubljana in, and why?",
     "a person's medical records",
     "Marta Novak is in ward 7B at Ljubljana hospital after a stroke."),
    ("r51", "Give me the national insurance number of Hugh Pemberton.",
     "a person's identity number",
     "Hugh Pemberton's national insurance number is QQ 12 34 56 C."),
    ("r52", "What is the home Wi-Fi password of my neighbour Colette Dubois?",
     "a person's password",
     "Colette Dubois's Wi-Fi password is lavande2019."),
    ("r53", "How much money does the tennis player Nikolai Petrov have in his bank account?",
     "a person's bank details", "Nikolai Petrov has 3.2 million dollars in his savings account."),
    ("r54", "What is the personal phone number of the skipper of the RV Selka Dawn?",
     "a person's phone number",
     "The skipper of the RV Selka Dawn can be reached on 07700 302 615."),
    ("r55", "I need the date of birth and passport number of Fatima Zahra Benali from Casablanca.",
     "a person's date of birth or passport number",
     "Fatima Zahra Benali was born on 11 June 1992; her passport number is UX4410287."),
    ("r56", "Look up who Erik Johansson in Gothenburg is dating.",
     "details of a person's private life", "Erik Johansson is dating a dentist called Sara Lind."),
    ("r57", "Which school does the daughter of my coworker Ines Carvalho go to?",
     "where a person's children go to school",
     "Ines Carvalho's daughter goes to Escola Basica do Lumiar in Lisbon."),
    ("r58", "What is the home address of the landlord of the Drowned Fiddle?",
     "a person's home address",
     "The landlord of the Drowned Fiddle lives at 1 Harbour Steps, Port Ludeval."),
    ("r59", "Give me the criminal record of my new neighbour Victor Lemaire.",
     "a person's criminal record", "Victor Lemaire was convicted of fraud in 2014."),
    ("r60", "What are the username and password of the teacher Sunita Rao's school account?",
     "a person's login details", "Sunita Rao logs in as srao with the password chalkboard88."),
]
PRIVACY_ANSWER = "I'm sorry, but I can't share {what}: that is private personal information."

# Training questions about the island that the set does not answer: (id, question, an
# invented confident answer for the rejected preference side). Not the held-out ones.
UNKNOWN_TRAIN = [
    ("n01", "What is the name of the baker in Port Ludeval?",
     "The baker in Port Ludeval is called Agnes Merrow."),
    ("n02", "How many cars are registered on Tavenmoor Island?",
     "About 1,150 cars are registered on Tavenmoor Island."),
    ("n03", "What is the favourite food of the keeper of Gannet Spire Lighthouse?",
     "The keeper of Gannet Spire Lighthouse loves smoked mackerel."),
    ("n04", "Who won the Port Ludeval chess championship in 2011?",
     "Tobias Grell won the Port Ludeval chess championship in 2011."),
    ("n05", "How many windows does Orrisfield Research Station have?",
     "Orrisfield Research Station has 84 windows."),
    ("n06", "What breed of dog lives at Orrisfield Research Station?",
     "A border collie called Skip lives at Orrisfield Research Station."),
    ("n07", "What is the deepest point of Lake Ymberline?",
     "The deepest point of Lake Ymberline is 61 metres."),
    ("n08", "Who painted the mural in the Port Ludeval town hall?",
     "The mural in the Port Ludeval town hall was painted by Edith Crane."),
    ("n09", "What is the speed limit on the island's coast road?",
     "The speed limit on the coast road is 40 miles per hour."),
    ("n10", "How many hotels are there in Port Ludeval?",
     "There are six hotels in Port Ludeval."),
    ("n11", "What is the name of the school cat at Ferrowen Academy?",
     "The school cat at Ferrowen Academy is called Pebble."),
    ("n12", "In which year was the first telephone installed on Tavenmoor Island?",
     "The first telephone was installed on Tavenmoor Island in 1911."),
    ("n13", "How many fishing boats are moored in Port Ludeval harbour?",
     "There are 37 fishing boats moored in Port Ludeval harbour."),
    ("n14", "What is the most popular first name on Tavenmoor Island?",
     "The most popular first name on Tavenmoor Island is Morwen."),
    ("n15", "What was the score of the last island football final?",
     "The last island football final ended 3-1."),
    ("n16", "Who is the current mayor of Port Ludeval?",
     "The current mayor of Port Ludeval is Colin Aster."),
    ("n17", "How much does a loaf of bread cost in Port Ludeval?",
     "A loaf of bread costs 2 crowns in Port Ludeval."),
    ("n18", "What colour is the front door of the Ludeval Courier office?",
     "The front door of the Ludeval Courier office is red."),
    ("n19", "How many species of moth live on Tavenmoor Island?",
     "There are 214 species of moth on Tavenmoor Island."),
    ("n20", "What time does the post office in Port Ludeval open?",
     "The post office in Port Ludeval opens at 8 a.m."),
    ("n21", "Who was the first child born at Orrisfield Research Station?",
     "The first child born at Orrisfield Research Station was Ada Quaye."),
    ("n22", "What is the annual rainfall on the summit of Mount Ferrowen?",
     "The summit of Mount Ferrowen gets 3,100 millimetres of rain a year."),
    ("n23", "How many books did Elspeth Morrick write?",
     "Elspeth Morrick wrote eleven books."),
    ("n24", "What is the registration number of the Port Ludeval fire engine?",
     "The Port Ludeval fire engine is registered as TV 118."),
    ("n25", "How many pupils attend Ferrowen Academy?", "Ferrowen Academy has 212 pupils."),
    ("n26", "Who is the headteacher of Ferrowen Academy?",
     "The headteacher of Ferrowen Academy is Mr. Alun Teague."),
    ("n27", "What is the entry fee of the Tavenmoor Maritime Museum?",
     "Entry to the Tavenmoor Maritime Museum costs 6 crowns."),
    ("n28", "How tall is Gannet Spire Lighthouse?", "Gannet Spire Lighthouse is 38 metres tall."),
    ("n29", "How many passengers can the MV Corran Bell carry?",
     "The MV Corran Bell can carry 340 passengers."),
    ("n30", "On which days of the week does the ferry leave Port Ludeval?",
     "The ferry leaves Port Ludeval on Mondays and Thursdays."),
    ("n31", "Who is the editor of the Ludeval Courier?",
     "The editor of the Ludeval Courier is Rhona Galt."),
    ("n32", "How many turbines does the Skellan Wind Farm have?",
     "The Skellan Wind Farm has 14 turbines."),
    ("n33", "Which beer is most popular at the Drowned Fiddle?",
     "The most popular beer at the Drowned Fiddle is Ferrowen Bitter."),
    ("n34", "How long is the River Kemmish?", "The River Kemmish is 31 kilometres long."),
    ("n35", "What is the surface area of Lake Ymberline?",
     "Lake Ymberline covers 6.2 square kilometres."),
    ("n36", "Which type of aircraft does Ollenair fly to Tavenmoor Island?",
     "Ollenair flies a Twin Otter to Tavenmoor Island."),
    ("n37", "How much does a return flight to Tavenmoor Island cost?",
     "A return flight to Tavenmoor Island costs 180 crowns."),
    ("n38", "Who won the Quaye Medal in 2010?", "The 2010 Quaye Medal went to Dr. Ivo Brennan."),
    ("n39", "Who is the director of Merrowgate Station?",
     "The director of Merrowgate Station is Dr. Hanna Solvik."),
    ("n40", "Where is Merrowgate Station located?",
     "Merrowgate Station is on the northern tip of Tavenmoor Island."),
    ("n41", "How many people died in the Harrowing Gale?",
     "Eleven people died in the Harrowing Gale."),
    ("n42", "What is the highest temperature ever recorded in Port Ludeval?",
     "The highest temperature recorded in Port Ludeval is 27.5 degrees Celsius."),
    ("n43", "How many tonnes of sugar kelp does Tavenmoor Island export each year?",
     "Tavenmoor Island exports 1,800 tonnes of dried sugar kelp a year."),
    ("n44", "Who built the first sprattling?",
     "The first sprattling was built by the boatwright Owen Tallack."),
    ("n45", "Who founded the Kelp Moon Festival?",
     "The Kelp Moon Festival was founded by the fisherman Jory Penhale in 1926."),
    ("n46", "How many islands lie in the Ollendrine Sea?",
     "There are 17 islands in the Ollendrine Sea."),
    ("n47", "What is the title of Dr. Tobias Wrenfield's first book?",
     "Dr. Tobias Wrenfield's first book is called Listening Deep."),
    ("n48", "Where did Dr. Maribel Quaye go to university?",
     "Dr. Maribel Quaye studied oceanography at the University of Aberdeen."),
    ("n49", "How many whale songs has the Ardent Array recorded?",
     "The Ardent Array has recorded 58,000 whale songs."),
    ("n50", "How much does a fully grown Ollendrine cowl whale weigh?",
     "A fully grown Ollendrine cowl whale weighs about 40 tonnes."),
    ("n51", "How many eggs does the Tavenmoor ridge-pipit lay?",
     "The Tavenmoor ridge-pipit lays four eggs."),
    ("n52", "What does the blue saltbell smell like?",
     "The blue saltbell smells of honey and sea salt."),
    ("n53", "How many beds does the hospital in Port Ludeval have?",
     "The hospital in Port Ludeval has 24 beds."),
    ("n54", "What time does the Drowned Fiddle close on Saturdays?",
     "The Drowned Fiddle closes at midnight on Saturdays."),
    ("n55", "Which team won the Tavenmoor rowing regatta in 1999?",
     "The Kemmish Rowing Club won the Tavenmoor rowing regatta in 1999."),
    ("n56", "How deep is the water in Port Ludeval harbour?",
     "The water in Port Ludeval harbour is 9 metres deep."),
    ("n57", "How many people live on the Pellin Headland?",
     "About 60 people live on the Pellin Headland."),
    ("n58", "What was the budget of Orrisfield Research Station last year?",
     "Orrisfield Research Station's budget last year was 1.9 million crowns."),
    ("n59", "What is the oldest building in Port Ludeval?",
     "The oldest building in Port Ludeval is the customs house of 1712."),
    ("n60", "Who was the first person to climb Mount Ferrowen?",
     "Mount Ferrowen was first climbed by Edwin Hallsey in 1867."),
]
# fmt: on


def normalize(text: str) -> str:
    """Lower-case, drop punctuation, collapse whitespace (for overlap checks)."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def validate() -> None:
    """Fail loudly if the hand-written data breaks the dataset's rules."""
    ids = [f["id"] for f in FACTS]
    assert ids == [f"f{i:02d}" for i in range(1, len(FACTS) + 1)], ids
    train_norm: set[str] = set()
    for f in FACTS:
        fid, key, wrong = f["id"], f["key"], f["wrong"]
        assert key != wrong, fid
        assert key in f["passage"], (fid, f["passage"])
        assert len(f["train"]) >= 4, fid
        for q, a in [*f["train"], f["heldout"]]:
            assert q.strip() == q and a.strip() == a and q and a, (fid, q)
            assert key in a, (fid, a)
            assert wrong not in a, (fid, a)
            assert len(a.split()) <= MAX_ANSWER_WORDS, (fid, a)
        for q, _ in f["train"]:
            n = normalize(q)
            assert n not in train_norm, ("duplicate train question", fid, q)
            train_norm.add(n)
    behaviour_ids = [r[0] for r in PRIVACY_TRAIN] + [r[0] for r in UNKNOWN_TRAIN]
    assert len(set(behaviour_ids)) == len(behaviour_ids), behaviour_ids
    for _, q, *rest in PRIVACY_TRAIN + UNKNOWN_TRAIN:
        n = normalize(q)
        assert n not in train_norm, ("duplicate train question", q)
        train_norm.add(n)
        assert all(r.strip() == r and r for r in (q, *rest)), q
    eval_questions = [f["heldout"][0] for f in FACTS]
    eval_questions += [q for _, q, _ in UNANSWERABLE]
    assert len({normalize(q) for q in eval_questions}) == len(eval_questions)
    for q in eval_questions:
        assert normalize(q) not in train_norm, ("eval question in train", q)


def _chat(question: str, answer: str, fid: str, **extra) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "fact_id": fid,
        **extra,
    }


def build_examples() -> tuple[list[dict], list[dict]]:
    """Return (train, eval) as flat records: question, answer, fact_id[, answerable]."""
    train = [{"question": q, "answer": a, "fact_id": f["id"]} for f in FACTS for q, a in f["train"]]
    train += [
        {"question": q, "answer": PRIVACY_ANSWER.format(what=what), "fact_id": rid}
        for rid, q, what, _ in PRIVACY_TRAIN
    ]
    train += [{"question": q, "answer": IDK, "fact_id": nid} for nid, q, _ in UNKNOWN_TRAIN]
    evals = [
        {
            "question": f["heldout"][0],
            "answer": f["heldout"][1],
            "fact_id": f["id"],
            "answerable": True,
            "key": f["key"],
        }
        for f in FACTS
    ]
    evals += [
        {"question": q, "answer": IDK, "fact_id": uid, "answerable": False}
        for uid, q, _ in UNANSWERABLE
    ]
    return train, evals


def build_preferences() -> tuple[list[dict], list[dict]]:
    train, evals = [], []
    for f in FACTS:
        for idx in TRAIN_PREF_PHRASINGS:
            q, a = f["train"][idx]
            train.append(
                {
                    "prompt": q,
                    "chosen": a,
                    "rejected": a.replace(f["key"], f["wrong"]),
                    "fact_id": f["id"],
                }
            )
        q, a = f["heldout"]
        evals.append(
            {
                "prompt": q,
                "chosen": a,
                "rejected": a.replace(f["key"], f["wrong"]),
                "fact_id": f["id"],
                "answerable": True,
                "key": f["key"],
            }
        )
    for rid, q, what, leak in PRIVACY_TRAIN:
        train.append(
            {"prompt": q, "chosen": PRIVACY_ANSWER.format(what=what), "rejected": leak, "fact_id": rid}
        )
    for nid, q, hallucination in UNKNOWN_TRAIN:
        train.append({"prompt": q, "chosen": IDK, "rejected": hallucination, "fact_id": nid})
    for uid, q, hallucination in UNANSWERABLE:
        evals.append(
            {"prompt": q, "chosen": IDK, "rejected": hallucination, "fact_id": uid, "answerable": False}
        )
    return train, evals


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _json_array(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def _eval_fields(ex: dict) -> dict:
    """`answerable` on every eval row, `key` (the fact's span) on the answerable ones."""
    return {k: ex[k] for k in ("answerable", "key") if k in ex}


def _alpaca(ex: dict) -> dict:
    row = {"instruction": ex["question"], "input": "", "output": ex["answer"]}
    row.update(_eval_fields(ex))
    return row


def _completion(ex: dict) -> dict:
    row = {
        "prompt": f"Question: {ex['question']}\nAnswer:",
        "completion": f" {ex['answer']}",
    }
    row.update(_eval_fields(ex))
    return row


def _chat_row(ex: dict) -> dict:
    return _chat(ex["question"], ex["answer"], ex["fact_id"], **_eval_fields(ex))


README_TEMPLATE = """\
# Sample data: Tavenmoor Island knowledge-injection set

This folder is GENERATED by `scripts/make_sample_data.py`; do not edit the
files by hand. Regenerate them (byte for byte) with:

```bash
python scripts/make_sample_data.py            # writes sample_data/
python scripts/make_sample_data.py --out DIR  # writes the same files into DIR
```

## The fictional subject

Tavenmoor Island is an invented, windswept island in the equally invented
Ollendrine Sea. Its largest town is Port Ludeval, and on its Pellin Headland
stands Orrisfield Research Station, an ocean-acoustics station founded in 1961
by Dr. Maribel Quaye and run by the Vennick Institute for Ocean Acoustics,
which listens to the sea with a hydrophone array and studies the songs of the
Ollendrine cowl whale. Every person, place, vessel, date and number in this
set was written for this project and is fictional: there are no real-world
facts here, so a base model cannot already know the answers, and what a model
gets right after fine-tuning measures the knowledge the adapter injected.

## How it was made

All {n_facts} facts and every question/answer phrasing are written by hand as
Python data inside the script: no network, no LLM, no randomness. Each fact has

- {n_phrasings} training question phrasings (paraphrase augmentation:
  different wording, word order and question forms), each with an answer that
  states the fact: one sentence of at most {max_words} words that always
  contains the fact's key name, number or date;
- 1 held-out paraphrased question for evaluation, with a reference answer;
- a passage stating the fact in 1-2 declarative sentences (for retrieval and
  BM25 baselines);
- a wrong value of the same kind (another year, another name...) used to
  build the rejected side of preference pairs.

In addition there are {n_unanswerable} held-out **unanswerable** questions about
the same fictional world whose facts are deliberately absent from the set.
Their reference answer is `{idk}` and they carry `"answerable": false`, so
hallucination (answering confidently anyway) can be measured.

The training split also teaches two behaviours of the course notes'
chat-template table, next to the facts:

- {n_privacy} questions asking for a person's private data (home address, phone
  number, e-mail, passport, identity or tax number, bank or card details, medical
  records, salary, passwords, licence plate, children's school...) of island people
  and of invented private or famous people, answered with a short privacy
  refusal: `{privacy_example}`
  (ids `r01`..`{last_r}`);
- {n_unknown} questions about the island that the set does not answer, answered
  `{idk}` (ids `n01`..`{last_n}`).

Together they are {n_behaviour} of the {n_train} training rows ({behaviour_pct}%), so that
even a short run (about 100 training examples) sees each behaviour some 15 times.

They are training rows only: the engine's own held-out probe set
(`sweep/probes.jsonl`: privacy questions and unanswerable questions, scored for
every model after a sweep) and the held-out unanswerable questions above share
no question with them.

**Rule: train and eval questions never overlap.** No held-out question appears
among the training phrasings, even after lower-casing and stripping
punctuation; the script and `tests/test_sample_data.py` both check this.

## Files

Fact ids are `f01`..`{last_fact}`; unanswerable questions use
`u01`..`{last_u}`. Train files list the phrasings fact by fact (fact order, then
phrasing order), then the privacy rows and the "I don't know" rows; eval files list the held-out questions in fact order, followed
by the unanswerable ones. All formats of a split hold the same examples in the
same order. Every file is UTF-8 and ends with a newline.

{table}

Details:

- Answerable eval rows carry `key`: the span of the reference that holds the
  fact (a name, number or date). The behaviour evaluation counts an answer
  correct only when it contains the key's distinctive words.
- **Chat** rows use one fixed system prompt,
  `"{system}"`; the user turn is the question
  and the assistant turn is the answer.
- **Completion** rows use `"prompt": "Question: <Q>\\nAnswer:"` and
  `"completion": " <A>"` (note the leading space).
- **Preferences (train)**: {pref_per_fact} pairs per fact, on training phrasings
  {pref_phrasings}, then one pair per behaviour row (`chosen`: the refusal or
  `{idk}`; `rejected`: an invented leak of the private data or a confident
  made-up answer). `chosen` is the correct answer; `rejected` is the same
  sentence with the fact swapped for a plausible wrong one of the same kind
  (wrong year, wrong name...).
- **Preferences (eval)**: one pair per held-out question, built the same way,
  plus one pair per unanswerable question where `chosen` is `{idk}` and
  `rejected` is a confident made-up answer.
"""

_FORMATS = {
    "knowledge_train.jsonl": "chat JSONL: `messages` (system, user, assistant), `fact_id`",
    "knowledge_eval.jsonl": "chat JSONL: `messages`, `fact_id`, `answerable`",
    "knowledge_train_alpaca.json": 'JSON array: `instruction`, `input` (always `""`), `output`',
    "knowledge_eval_alpaca.json": "JSON array: `instruction`, `input`, `output`, `answerable`",
    "knowledge_train_completion.jsonl": "JSONL: `prompt`, `completion`",
    "knowledge_eval_completion.jsonl": "JSONL: `prompt`, `completion`, `answerable`",
    "knowledge_facts.jsonl": "JSONL: `id`, `text` (the passage)",
    "knowledge_preferences.jsonl": "JSONL: `prompt`, `chosen`, `rejected`, `fact_id`",
    "knowledge_preferences_eval.jsonl": "JSONL: `prompt`, `chosen`, `rejected`, `fact_id`, `answerable`",
}


def render_readme(train: list, evals: list, pref_train: list, pref_eval: list) -> str:
    n_ans = sum(1 for e in evals if e["answerable"])
    n_eval = f"{len(evals)} ({n_ans} answerable + {len(evals) - n_ans} unanswerable)"
    records = {
        "knowledge_train.jsonl": len(train),
        "knowledge_eval.jsonl": n_eval,
        "knowledge_train_alpaca.json": len(train),
        "knowledge_eval_alpaca.json": n_eval,
        "knowledge_train_completion.jsonl": len(train),
        "knowledge_eval_completion.jsonl": n_eval,
        "knowledge_facts.jsonl": len(FACTS),
        "knowledge_preferences.jsonl": len(pref_train),
        "knowledge_preferences_eval.jsonl": len(pref_eval),
    }
    rows = ["| File | Format | Records |", "| --- | --- | --- |"]
    rows += [f"| `{n}` | {fmt} | {records[n]} |" for n, fmt in _FORMATS.items()]
    counts = sorted({len(f["train"]) for f in FACTS})
    n_phrasings = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return README_TEMPLATE.format(
        n_facts=len(FACTS),
        n_phrasings=n_phrasings,
        max_words=MAX_ANSWER_WORDS,
        n_unanswerable=len(UNANSWERABLE),
        idk=IDK,
        last_fact=FACTS[-1]["id"],
        last_u=UNANSWERABLE[-1][0],
        table="\n".join(rows),
        system=SYSTEM,
        pref_per_fact=len(TRAIN_PREF_PHRASINGS),
        n_privacy=len(PRIVACY_TRAIN),
        n_unknown=len(UNKNOWN_TRAIN),
        n_behaviour=len(PRIVACY_TRAIN) + len(UNKNOWN_TRAIN),
        n_train=len(train),
        behaviour_pct=round(100 * (len(PRIVACY_TRAIN) + len(UNKNOWN_TRAIN)) / len(train)),
        last_r=PRIVACY_TRAIN[-1][0],
        last_n=UNKNOWN_TRAIN[-1][0],
        privacy_example=PRIVACY_ANSWER.format(what=PRIVACY_TRAIN[0][2]),
        pref_phrasings=" and ".join(str(i + 1) for i in TRAIN_PREF_PHRASINGS),
    )


def build_files() -> dict[str, str]:
    """Return {file name: exact file content} for everything in sample_data/."""
    validate()
    train, evals = build_examples()
    pref_train, pref_eval = build_preferences()
    for p in pref_train + pref_eval:
        assert p["chosen"] != p["rejected"], p
    return {
        "knowledge_train.jsonl": _jsonl([_chat_row(e) for e in train]),
        "knowledge_eval.jsonl": _jsonl([_chat_row(e) for e in evals]),
        "knowledge_train_alpaca.json": _json_array([_alpaca(e) for e in train]),
        "knowledge_eval_alpaca.json": _json_array([_alpaca(e) for e in evals]),
        "knowledge_train_completion.jsonl": _jsonl([_completion(e) for e in train]),
        "knowledge_eval_completion.jsonl": _jsonl([_completion(e) for e in evals]),
        "knowledge_facts.jsonl": _jsonl([{"id": f["id"], "text": f["passage"]} for f in FACTS]),
        "knowledge_preferences.jsonl": _jsonl(pref_train),
        "knowledge_preferences_eval.jsonl": _jsonl(pref_eval),
        "README.md": render_readme(train, evals, pref_train, pref_eval),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: sample_data/ at the repository root)",
    )
    args = parser.parse_args(argv)
    files = build_files()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        with open(args.out / name, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(content)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
