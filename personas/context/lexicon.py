"""The cue lexicon an analyst skims business documents with: generic vocabulary of risk, opportunity, dependency,
capacity, obligation, change, missing ownership, deadlines, other companies' news, resolved or rehearsed events and
reassurance, plus which metrics are good or bad when they rise. Lower-case patterns; nothing about any one company.
What a sentence states is :mod:`personas.context.facts`.
"""

from __future__ import annotations

import importlib
import itertools
import re
from typing import Any

# the regular-expression parser and its opcodes, to read what a cue pattern starts with (no public API does)
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAY_MONTH = rf"\d{{1,2}}(?:st|nd|rd|th)? (?:of )?(?:{MONTHS})|(?:{MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?\b"

# money a plan counts on from someone: "receipts in week 46 include €640k from the Benelux distributor"
RECEIVED_FROM = r"(?:receipts?|income|payments?|proceeds|remittances?) (?:[\w€£$.,()-]+ ){0,8}from"

# the people a business sells to, as a pool ("lapsed customers", "dormant members")
_POOL = r"(?:customers|clients|members|subscribers|donors|patrons|users|accounts|plan ?holders|policyholders)\b"

# (category, weight, pattern). Patterns are matched on lower-cased text between word boundaries.
CUES: tuple[tuple[str, float, str], ...] = (
    # risk: something that can hurt the business
    ("risk.failure", 1.0, r"fail(?:s|ed|ing|ures?)?|defect(?:s|ive)?(?! reporting| report form)|faults?(?! reporting)|"
                          r"faulty|malfunction\w*|"
                          # a breakdown, not the cover or service a hire price includes for one
                          r"breakdowns?(?! (?:cover|service|assistance|callout|call-out|insurance)\b)|"
                          r"broken(?! out\b| down (?:by|into)\b)|broke down|reject(?:s|ed|ions?)?|scrap(?:ped)?|rework|"
                          r"out of (?:spec|specification|tolerance|service|order)|non-?conform\w*|deviation\w*|"
                          r"leak(?:s|ed|ing)?|corrosion|corroded|cracks?|cracked|reboot(?:s|ed|ing)?|"
                          r"crash(?:es|ed|ing)?|freez(?:es|ing)|froze|errors?|bugs?|glitch\w*|"
                          r"(?:zero-point |calibration |sensor )?drift(?:s|ed|ing)?|dead|stopped working|"
                          r"not working|unacceptable|inoperable|unserviceable|fouled|worn(?: out)?|"
                          r"below (?:spec|specification|standard|the specified|the required|minimum)|"
                          r"under-?perform\w*|overheat\w*|"
                          r"unreliable|intermittent\w*|duplicat(?:e|ed) (?:\w+ ){0,2}(?:payments?|deposits?|"
                          r"charges?|orders?|invoices?|records?)|double[- ](?:charg|pa|bill)\w*|(?:paid|charged|"
                          r"debited|billed|invoiced|shipped|sent) (?:\w+ ){0,4}twice"),
    ("risk.outage", 1.0, r"outages?|downtime|offline|shut ?down|shutdowns?|halt(?:s|ed)?|stoppages?|"
                         r"stopp(?:ed|ing)|out of action|grounded|closed for|switched off|"
                         r"closure(?! (?:reports?|notes?|notices?|letters?|meetings?|certificates?))|turned off|"
                         r"taken out of service|"
                         # a line or a site that will make nothing for a period: "Line 2 will pack no cans"
                         r"(?:will|can|shall|would) (?:\w+ )?(?:pack|make|produce|ship|fill|run|process|print|bake|"
                         r"brew|serve|load|dispatch|deliver|supply|build)s? (?:no|nothing)\b|"
                         r"(?:has|have|had|was|were) (?:taken|put) (?:[\w-]+ ){1,8}out of "
                         r"service|decommission\w*|unavailable"),
    ("risk.supply", 1.0, r"shortages?|shortfall|stock-?outs?|run(?:s|ning)? (?:short|out)|ran (?:short|out)|"
                         r"back-?order\w*|lead times? (?:of|rose|grew|increased|now|is|are)|on allocation|"
                         r"as available|built to order|made to order|no stock|out of stock"),
    ("risk.single", 1.2, r"sole[- ](?:supplier|source\w*|vendor|provider|manufacturer|maker|customer|engineer|"
                         r"operator|person)|single[- ]source\w*|single[- ]supplier|single point of failure|"
                         r"only (?:approved |qualified |certified |authori[sz]ed |remaining )?(?:supplier|source|"
                         r"vendor|provider|manufacturer|maker|engineer|person|developer|"
                         r"technician|specialist|expert|one (?:who|that|with|able|trained|qualified))|"
                         r"(?:the )?only \w+ (?:who|that) (?:can|knows?|understands?|holds?|has)|"
                         # "our only subcontract fitting company": the one firm a kind of work rests on
                         r"(?:our|the) only (?:[\w-]+ ){0,2}(?:contractor|subcontractor|company|firm|installer|"
                         r"carrier|haulier|partner|distributor|stockist|lab|laboratory)s?\b(?! (?:that|who|to) \w+ us)|"
                         r"no (?:qualified |approved |second |other )?(?:alternative|alternate|backup|back-up|"
                         r"second|other) (?:source|supplier|vendor|provider|engineer|person|site)|"
                         r"no qualified alternate|not (?:yet )?(?:been )?qualified|"
                         # a post nobody holds: its duties (a licence's renewal, a sign-off) rest on no one
                         r"(?:posts?|roles?|positions?|jobs?) (?:\w+ ){0,2}vacant|vacant (?:posts?|roles?|positions?)|"
                         # "No other UK maltster we have qualified floor-malts at the volume we need"
                         r"no other (?:[\w-]+ ){0,2}(?:supplier|source|vendor|maker|manufacturer|provider|producer|"
                         r"contractor|subcontractor|installer|carrier|haulier|mill|lab|laboratory|[a-z]{3,}ster)s?\b|"
                         r"no (?:backup|back-up|redundan\w+|spares?|contingency|fallback|cover|deputy|standby)|"
                         r"(?:do|does|did) not (?:hold|have|keep|carry|stock) (?:a |any )?(?:[\w-]+ ){0,2}"
                         r"(?:spares?|backup|back-up|standby)|"
                         r"key[- ]person|knowledge (?:sits|lives|rests) with|"
                         # one event that takes out what was meant to be two: "a single shared duct", "a single
                         # event at the bridge would cut both circuits at once"
                         r"single shared|(?:would|could|will|can) (?:cut|sever|isolate|take out|knock out|disable|"
                         r"stop|break) (?:both |all (?:of )?(?:the |our )?)(?:\w+ ){0,3}(?:at once|together|"
                         r"at the same time|simultaneously)"),
    ("risk.end", 1.1, rf"expir(?:e|es|ed|ing|y|ation)|laps(?:e|es|ing)|lapsed(?! {_POOL})|terminat\w+|non-?renew\w*|"
                      # a post that goes, and the one who holds it with it ("Post deleted; ... Voluntary redundancy
                      # offered"), not the cost of a restructure ("Redundancy and relocation costs")
                      r"(?:post|role|position|job)s? (?:is |are |to be |will be )?(?:deleted|abolished|"
                      r"disestablished|removed|made redundant)|made redundant|"
                      r"(?:voluntary|compulsory) redundanc(?:y|ies) (?:offered|accepted|agreed|approved|"
                      r"applications?)|"
                      r"not (?:be )?(?:renew|extend)\w*|will not renew|declin\w+ to (?:renew|extend)|"
                      r"(?:lease|contract|agreement|licen[cs]e|policy|"
                      r"certificate|warranty|support|cover|coverage|subscription|permit|term|tenancy|msa|sla):? "
                      r"(?:ends|ended|runs out|ran out|is up|ceases)|"
                      # a maker's service or a product line closing for good ("repair service ... closes on 31
                      # March", "no new boards will be manufactured"), not a counter closing for a holiday
                      r"(?:repair|exchange|support|maintenance|spares?|parts?) (?:service|scheme|programme|line) "
                      r"(?:[\w-]+ ){0,5}?(?:closes|will close|is closing|ends|will end|ceases|will cease)\b|"
                      r"no (?:new|further|more) (?:[\w-]+ ){0,2}will be (?:manufactured|made|produced|built)|"
                      r"end[- ]of[- ](?:life|support|sale)|(?:leaves?|out of|no longer in|end of) (?:extended )?"
                      r"support|no longer (?:supported|available|offered|made|sold)|unsupported|"
                      r"discontinu\w+|obsolete|phas(?:e|ed|ing) out|withdr(?:aw|aws|awing|ew|awn)|"
                      r"stop(?:s|ped|ping)? (?:offering|selling|making|supplying|supporting|producing|serving|"
                      r"operating|stocking|carrying)|ceas(?:e|es|ed|ing) (?:trading|operations|to)|"
                      r"exit(?:s|ing)?|pull(?:ed|ing)? out|wind(?:ing)? down|insolven\w+|bankrupt\w*|"
                      r"administration(?! (?:fees?|charges?|costs?|team|staff|office|assistant|manager|time|work))|"
                      r"receivership|chapter 11|sunset(?:s|ting|ted)?|"
                      # a firm heading for insolvency: a petition to wind it up, judgments for unpaid debts
                      r"winding[- ]up (?:petition|order)|wound up|(?:went|gone|going|enter\w*|placed) into "
                      r"liquidation|liquidators?|county court judg(?:e)?ments?|\bccjs?\b|"
                      r"moratorium on (?:its |their )?payments|payment moratorium|suspension of payments|"
                      r"resign(?:s|ed|ing|ation)|(?:is|are) leaving|last (?:working )?day|"
                      # someone retiring, not a pension word or a machine's planned replacement ("hardware
                      # retirement notices")
                      r"(?<!hardware )(?<!equipment )(?<!server )(?<!asset )(?<!fleet )"
                      r"retir(?:es|ed|ing|ement)\b(?! (?:benefits?|plans?|schemes?|savings|age|funds?|pensions?|"
                      r"accounts?|homes?|villages?|income|notices?|of (?:the |our |old )?(?:\w+ )?(?:servers?|"
                      r"hardware|instances?|systems?|equipment|assets?|vehicles?|machines?)))|"
                      r"(?:maternity|paternity|parental|adoption) leave|long-term sick\w*|"
                      # a landlord who will not grant a new lease: "opposes a new tenancy", "intends to redevelop"
                      r"oppos(?:es|ed|ing) (?:the grant of )?(?:a |the )?(?:new )?(?:tenancy|lease|renewal)|"
                      r"(?:intends?|intention|plans?) to (?:redevelop|demolish|take back|sell the site)|"
                      r"handed in (?:her|his|their) "
                      r"notice|declined (?:our|the|a) (?:counteroffer|offer|renewal|extension)"),
    ("risk.late", 0.7, r"overdue|running late|"
                       # a visit, test or examination that was due and did not happen
                       r"(?:did|has|have|was|were) not (?:take place|taken place|go ahead|gone ahead|been carried out|"
                       r"carried out|happen(?:ed)?)\b|"
                       r"(?:is|are|was|were) late(?! (?:in (?:the )?)?(?:jan|feb|mar|apr|may|jun|"
                       r"jul|aug|sep|oct|nov|dec|spring|summer|autumn|fall|winter|next|this|that|in|on))|"
                       r"delay(?:s|ed)?|behind (?:schedule|plan)|"
                       r"cancel\w*|(?:cannot|can't|could not|won't|will not) (?:be )?(?:made|delivered|finished|"
                       r"completed|ready|shipped|built|done|met)|(?:mov|push|shift|slid|slipp)\w* (?:back |out )?"
                       r"(?:in)?to (?:the |a )?(?:[\w.-]+ ){0,3}(?:cycle|release|update|phase|wave|quarter|year|"
                       r"patch|sprint|version|season|window)|"
                       # "RFS moves from 29 Aug to mid-December"
                       r"(?:moves?|moved|moving|slips?|slipped|pushed|shifts?|shifted|put back) (?:back )?from "
                       r"(?:[\w.-]+ ){1,3}to (?:the )?(?:mid|late|early|end|start|q[1-4]|jan|feb|mar|apr|may|jun|jul|"
                       r"aug|sep|oct|nov|dec|next|\d)|"
                       # a date that slips, not a slip on a wet floor ("both slips, both under the 7-day rule")
                       r"slipp(?:ed|ing)|slips(?= (?:to|into|by|back|again|further|out|past|beyond)\b)|"
                       r"postpon\w+|backlog|pushed (?:back|out)|rescheduled|"
                       r"not (?:be )?(?:available|ready|delivered|complete|finished|live|expected|due) "
                       r"(?:until|before)|too late|miss(?:es|ed|ing)? (?:the|its|our|their) (?:deadline|date|"
                       r"window|target|milestone|slot)"),
    ("risk.loss", 1.0, r"churn\w*|attrition|los(?:e|es|t|ing) (?:\w+ ){0,2}(?:customers?|clients?|accounts?|deals?|"
                       r"revenue|contracts?|renewals?|bids?|tenders?|market share|staff|members|business|sales)|"
                       # (losses a change is made to cut are its purpose: "moved to us to reduce losses in transit")
                       r"(?:was|were|been) lost|lost (?:to|\d)|"
                       r"(?<!reduce )(?<!reducing )(?<!cut )(?<!cutting )(?<!avoid )(?<!prevent )(?<!minimise )"
                       r"(?<!minimize )(?<!fewer )(?<!lower )losses|deficit|write-?(?:down|off)s?|impair\w+|"
                       r"overrun\w*|over budget|unbudgeted|(?:cannot|can't|could not|will not) be (?:recovered|"
                       r"billed|collected|recouped|reclaimed|back-?billed)|unrecoverable|forfeit\w*|"
                       r"overcharg\w+|withh(?:o|e)ld\w* (?:the |its |our |a |any )?(?:\w+ )?(?:payment|"
                       r"instalment|fee|invoice|"
                       r"funds?|money)s?|claw-?back|refunds? (?:granted|paid|issued|given|requests?)|"
                       r"(?:ask|asks|asked|asking|request\w*) (?:\w+ ){0,3}for (?:a |their )?(?:refund|"
                       r"compensation|money back)|"
                       r"(?:cancel\w*|cancelling|terminate\w*) (?:their|its|the) (?:contract|account|subscription)|"
                       r"asked about (?:cancel\w*|leaving|terminat\w*|switching)|one-star|"
                       r"below (?:the |its |our )?(?:target|plan|budget|forecast)|short of (?:the |its |our )?"
                       r"(?:target|plan|budget|forecast)"),
    # a fine levied, not "fine at the lower dose"
    # (nor the premium paid for unsocial hours: "plus night penalty", "weekend penalty rates")
    ("risk.compliance", 1.2, r"(?<!night )(?<!weekend )(?<!evening )(?<!shift )(?<!overtime )(?<!holiday )"
                             r"(?<!sunday )(?<!saturday )"
                             r"penalt(?:y|ies)(?! (?:charge notices|points|rates?|loadings?))|fines|fined|"
                             r"(?:a|the|any|civil|regulatory) fine\b|fine of|"
                             r"[$£€]\s?\d[\d,.]*\s?[km]?n? fine|finable|liquidated damages|violat\w+|non-?complian\w+|"
                             r"downgrad\w+|revok\w+|revocation|suspen(?:d|ded|sion)|"
                             r"provisional(?! (?:driving )?(?:entitlement|licen[cs]e))|probation\w*|"
                             r"breach(?:es|ed)?|citations?|warning letter|sanction\w*|enforcement|audit finding|"
                             r"(?:not|un)(?:-| )?(?:certified|licensed|accredited|compliant|approved|bonded|insured|"
                             r"registered)|lawsuits?|litigation|dispute[ds]?(?! resolution)|claims? against|"
                             r"barred(?! list)|under-?pa(?:id|yment\w*)|prohibit\w*|forbid(?:s|den)?|forbade|"
                             r"no statutory excuse|not (?:permitted|allowed)|"
                             r"contrary to (?:the |our |its |their )?(?:agreement|contract|terms|policy|licen[cs]e)|"
                             r"may not be (?:launched|sold|used|shipped|released)|refuse-to-accept|"
                             r"refus(?:e|ed|al) to (?:accept|file)|"
                             r"without (?:a |an |any |the )?(?:valid |signed |current )?(?:(?:[a-z]+ )?(?:licen[cs]e|"
                             r"permit)|certificate|certification|approval|contract|agreement|insurance|cover|bond|"
                             r"consent|clearance|rating)|(?:bond|insurance|guarantee|inspection|audit|check|review|"
                             r"approval) (?:was |were |is |are )?waived|uninsured|under-?insured|unbonded|"
                             r"most[- ]favou?red|price protection|right to terminate|change of control"),
    ("risk.safety", 1.2, r"injur\w+|hazard\w*(?! perception| waste|\s*\((?:[\w-]+,? ){0,2}waste)|unsafe|"
                         # a maker's order to stop using a thing until it is fixed, and a part that may burst
                         r"stop[- ](?:drive|use|fly|sale)|do not (?:drive|use|operate|fly)\b(?! (?:[\w-]+ ){0,3}"
                         r"(?:for|to) )|(?:may|could|can|might) (?:\w+ )?(?:rupture|burst|explode|detach)|"
                         r"contaminat\w+(?! (?:charges?|fees?|surcharges?))|toxic|fire risk|adverse events?|"
                         # an allergen that can reach food sold as free of it
                         r"cross-?contact|may contain (?:traces of )?[a-z]+|shared (?:production )?line with|"
                         # a recall, not recall cover or a rehearsal of one, nor the paid work of carrying one out
                         # ("recall labour claims: £14,820")
                         r"(?<!mock )(?<!test )recall(?:s|ed)?(?! (?:insurance|plans?|procedures?|polic(?:y|ies)|"
                         r"tests?|drills?|exercises?|cover|readiness|simulations?|costs?|liabilit(?:y|ies)|"
                         r"labou?r|claims?|income|revenue|hours|limits?|sums? insured))|"
                         r"near[- ]miss\w*|fatalit\w+|harm to|"
                         # a spill, not the kit, store, plan or drill kept ready for one
                         r"spill\w*(?! (?:response|kits?|stores?|equipment|drills?|exercises?|plans?|procedures?|"
                         r"trays?|pallets?|training)\b)|"
                         # a cold chain broken: "temperature excursions", "Excursions: 9", "out of range"
                         r"temperature excursions?|excursions?(?=:)|out of (?:its |the )?(?:safe |permitted |"
                         r"storage |temperature )?range|"
                         # a spill of sewage or water ("the wet well overflows", "a storm overflow event"), not a
                         # place or a contractor kept for what does not fit ("overflow store", "overflow civils")
                         r"overflow(?:ed|ing)\b|overflows\b(?! (?:car|parking|stores?|storage|areas?|yards?|bays?)\b)|"
                         r"(?:sewage|sewer|storm|foul|combined|tank|bund|well|cso|river|drain)s? overflows?\b|"
                         r"overflow (?:events?|incidents?|discharges?|spills?|of|from|into|onto|elevation|level)\b"),
    ("risk.capacity", 0.9, r"(?:at|over|above|exceed\w*|beyond|maxed|short of) (?:full |its |our |their )?"
                           r"capacity|bottleneck\w*|overbooked|oversubscribed|no (?:spare |free )?(?:capacity|"
                           r"slots?|room|headroom)|cannot (?:meet|handle|absorb|cover|take|carry|serve|supply)|"
                           r"can't (?:meet|handle|absorb|cover|take)|fully booked|"
                           r"(?:can|could) (?:take|handle|carry|serve|supply) no more than|no more than|"
                           r"limited to|capped at|only (?:\w+ ){0,2}(?:a|per) (?:week|day|month|shift)|"
                           r"(?:little|hardly any|almost no|barely any|scarcely any|not much) (?:spare |free )?"
                           r"(?:capacity|headroom|room)"),
    ("risk.concentration", 1.1, r"\d+(?:\.\d+)?\s?% of (?:[\w-]+(?:'s|’s) )?(?:our |total |annual |group |the "
                                r"company's )?(?:revenue|sales|volume|orders|business|turnover|income|bookings|"
                                r"profit|margin)|largest (?:single )?(?:customer|client|account|supplier)|"
                                r"accounts? for \d+(?:\.\d+)?\s?%"),
    ("risk.security", 1.1, r"vulnerab\w+|exploit\w*|unpatched|compromis\w+|ransomware|phishing|malware|"
                           r"unauthori[sz]ed|credentials? (?:exposed|leaked)|no (?:spending |purchase )?"
                           r"(?:confirmation|verification|authentication|approval) (?:step|check)?"),
    ("risk.exposure", 1.0, r"refuse-to-accept|put (?:out )?to (?:tender|rfp|bid)|"
                           # a customer re-tendering its contract, not our own re-tender of a supply framework
                           r"(?:will|is|are|plans? to|intends? to|decided to|going to) re-?tender (?:its|their|the) "
                           r"(?:\w+ ){0,3}(?:contract|account|business|work|services?)|"
                           r"consolidat\w+ (?:\w+ ){0,4}(?:purchasing|suppliers|vendors|spend)|"
                           r"(?:review|reviewing) (?:its|their) (?:suppliers|vendors|options)|financial "
                           r"(?:distress|difficult\w*|trouble)|cash(?:flow)? (?:problems?|difficult\w*|crunch)|"
                           r"paying (?:late|slowly)|payment has slowed|slow(?:er)? pa(?:ying|yment)|"
                           # a balance past its credit limit, or a limit raised; a limit alone is a term
                           r"(?:over|above|exceed\w*|beyond|breach\w*|past|times) (?:its |their |the |our |his |her )?"
                           r"(?:agreed |approved )?credit limits?|credit limits? (?:\w+ ){0,2}(?:exceeded|breached)|"
                           r"(?:rais|increas|extend|lift|doubl)\w* (?:the |its |their |our )?(?:[\w-]+ ){0,2}"
                           r"credit limits?|below the (?:board's |agreed |minimum )?floor|"
                           # a supplier or subcontractor asking to be paid sooner: cash strain, not demand
                           r"(?:ask|asks|asked|asking|request\w*) (?:\w+ ){0,8}(?:be )?paid (?:on submission|early|"
                           r"earlier|sooner|in advance|up-?front|before)|(?:ask|asks|asked|asking|request\w*) "
                           r"(?:\w+ ){0,3}(?:for )?(?:early|earlier|advance|up-?front|accelerated) payments?|"
                           r"payment in advance|paid on submission|"
                           # an insurer excluding a peril or an asset: the loss it would have paid is uninsured
                           r"(?:insurers?|underwriters?|insurance|polic(?:y|ies)) (?:[\w-]+ ){0,4}excluded|"
                           r"excluded (?:[\w,-]+ ){0,6}(?:cover|damage|losses|claims|from (?:the )?(?:cover|policy|"
                           r"insurance))|uninsured|not insured|"
                           # an insurer's condition not met: "would have no theft cover from 1 March"
                           r"(?:would|will|could|may) (?:then )?(?:have|be left with|be left without|lose) "
                           r"(?:no |its |their |the |any )?(?:[\w-]+ ){0,2}(?:cover|insurance)\b|"
                           r"no longer (?:be )?(?:insured|covered)"),
    ("risk.rise", 0.6, r"ris(?:e|es|en|ing)|rose|increas\w+|climb\w*|jump\w*|doubl\w+|tripl\w+|"
                       r"surg(?:e|ed|es|ing)|spik(?:e|ed|es|ing)|grew|growing|higher|worse\w*|escalat\w+|up from"),
    # "declined" as a figure's fall ("declined by 12%"), not as business refused ("we declined the order")
    ("risk.fall", 0.6, r"declin(?:e|es|ing)\b|declined(?= (?:by|to|from|in|over|sharply|steadily|slightly|further|"
                       r"again|each|every|\d+(?:\.\d+)? ?(?:%|per ?cent|points?)))|"
                       r"drop(?:ped|s)?|fell|fall(?:en|ing|s)?|decreas\w+|down \d|down from|lower|"
                       r"shr(?:ink|ank|unk)\w*|reduc(?:ed|tion)"),
    ("risk.word", 0.4, r"risks?|risky|concerns?|worr\w+|problems?|issues?|exposed|vulnerable|threat\w*|warn\w*|"
                       r"critical|urgent|severe|serious"),
    # opportunity: something the business could gain
    ("opp.demand", 1.1, r"(?:unmet|pent-up|strong|growing|rising|new|customer|client) demand|demand for|"
                        # customers who say they would bring work to the business ("17 of them said they would move
                        # most of it to us if we connected to their platform")
                        r"(?:would|will|could) (?:move|switch|send|bring|transfer|give|place) (?:[\w-]+ ){0,4}?"
                        r"(?:to us|with us|our way)\b|"
                        r"waitlist|wait(?:ing)? list|(?:asked|ask|asks|asking) (?:(?!for\b)\w+ ){0,4}for(?! (?:a |"
                        r"an |the |their |its |our )?(?:[\w-]+ (?:and )?){0,3}"
                        r"(?:refund|compensation|money back|credit note|pin|password|discount|"
                        # records, work or more time asked of the business: no customer wants to buy anything
                        r"menus?|records?|documents?|details|information|evidence|cop(?:y|ies)|logs?|reports?|"
                        r"statements?|explanations?|clarification|detail|updates?|(?:early )?warnings?|notice|"
                        r"notifications?|comments?|feedback|approvals?|options|"
                        r"proposals?|plans?|reviews?|analys[ie]s|strateg(?:y|ies)|postponement|extensions?|"
                        r"deferrals?|more time|a meeting|meetings?|call|summar(?:y|ies)|breakdowns?|figures|"
                        r"papers?|briefings?|forecasts?|reconciliations?|audits?|data|statistics|numbers|lists?|"
                        r"comparisons?|schedules?|"
                        # staff asking for more work is labour to spare, not a customer's demand
                        r"(?<=more )(?:hours|shifts)|(?<=extra )(?:hours|shifts)|(?<=additional )(?:hours|shifts)))|"
                        # a customer asking whether the business could supply something, not a colleague's
                        # question in a meeting
                        r"ask(?:s|ed)? (?:whether|if) (?:\w+ ){1,3}(?:could|can|would|might|will) (?:\w+ ){0,3}"
                        r"(?:buy|order|supply|provide|offer|extend|serve|connect|install|book|rent|lease|hire|deliver|"
                        r"quote|sell|stock|carry|make|build|host|take|add|run|open)\b(?! (?:\w+ ){0,8}(?:be )?paid)|"
                        r"requests?(?:ed|ing)? (?:\w+ ){0,3}(?:for|to)(?! (?:\w+ ){0,2}(?:be )?(?:paid|payments?))"
                        # a request for a quotation is the business asking a supplier
                        r"(?! (?:a |an |the )?(?:[\w-]+ ){0,2}(?:quot(?:e|es|ation|ations)|prices?|pricing|"
                        r"tenders?|proposals?)\b)|"
                        r"inquir(?:y|ies)|"
                        r"would (?:contribute|fund|co-fund|send|refer|redirect)|"
                        r"offer(?:s|ed|ing)? to (?:fund|pay|buy|contribute|send|refer|purchase|take)|"
                        # asked for and not on the shelf: "What we told them: Not stocked"
                        r"not stocked|(?:we )?(?:do not|don't) stock|"
                        r"enquir(?:y|ies)|interest(?:ed)? in|want(?:s|ed)? (?:to (?:buy|order|use|switch|rent|"
                        r"lease|license|licence)|a |an |more )|would (?:\w+ly )?(?:pay|buy|order|sign|switch|commit|"
                        r"take|rent)|willing to (?:pay|buy|commit|sign)|pre-?orders?|letters? of (?:intent|interest)|"
                        r"oversubscribed|turned away|sold out|(?:we|i|outcome:?) declined|"
                        # a request the business means to turn away: "Recommendation at the meeting: decline"
                        r"(?:recommend\w*|proposal|proposed|plan)\b[^.:;]{0,40}:? (?:to )?decline\b|"
                        r"declined (?:the |an? |"
                        r"their |this |that )?(?:orders?|enquir\w+|inquir\w+|requests?|business|work|bookings?|jobs?|"
                        r"contracts?|bids?|tenders?)|due for (?:replacement|renewal|upgrade|refresh)|"
                        # a buyer going out to tender: "going out to tender for a supplier, responses due by 20 June"
                        r"(?:going|goes|go|went|is going) out to tender\b|tender responses? (?:are |is )?due|"
                        r"invitations? to (?:tender|bid|quote)|requests? for (?:proposals?|tenders?|quotations?)|"
                        r"(?:will )?need to replace|invit\w+ (?:\w+ ){0,3}to (?:bid|tender|submit|quote|"
                        r"propose|apply|pitch|send)|could (?:switch|move|join)|"
                        r"(?:look|search)(?:ed|ing|s)? for (?:\w+ ){0,2}(?:space|premises|rooms?|sites?|units?|"
                        r"locations?|buildings?|warehous\w+|capacity)|looking for (?:a|an|new) "
                        r"(?:supplier|provider|partner|vendor)|searche[ds]? for|search(?:es|ing)? for"),
    # an offer or a scheme open to the business until a date ("we will accept forward orders at current prices
    # until 14 March", "the agreement is open to new facilities until 30 September"): an opening that lapses
    ("opp.use-or-lose", 1.0, r"open to new (?:[\w-]+ ){0,2}?(?:\w+) (?:\w+ ){0,3}?until\b|"
                             r"(?:will|we'll|to) (?:accept|honour|hold|take) (?:\w+ ){0,4}?at (?:current|today's|"
                             r"existing|old|present) (?:list )?(?:prices?|rates?|terms) (?:\w+ ){0,2}?"
                             r"(?:until|before)\b|"
                             r"(?:lock|locks|locking) in (?:\w+ ){0,3}(?:prices?|rates?) (?:\w+ ){0,3}?"
                             r"(?:until|before)\b"),
    ("opp.saving", 1.0, r"deemed (?:rates?|tariffs?|prices?)|out of contract since|"
                        r"sav(?:e|es|ed|ing|ings)|cheaper|lower (?:cost|price|rate|fee)s?|reduc\w+ (?:\w+ ){0,2}"
                        r"(?:costs?|spend|bill|fees?|energy|waste)|cut (?:\w+ ){0,2}(?:costs?|spend|bill|waste)|"
                        r"rebates?|discounts?|(?:claim|reclaim|recover|obtain|receive|seek|get) (?:a |"
                        r"the |\w+ )?refunds?|"
                        r"refunds? (?:of|on) (?:the )?(?:excess|overpa\w+|tax|duty|vat|fees?)|grants?|"
                        r"subsid\w+|incentives?|tax credits?|credits? of|"
                        r"(?:quality|incentive|bonus|performance|shared[- ]savings) payments?|"
                        r"(?:demand|energy|capacity|tax) credits?|reimburse\w*|avoid(?:ed|able)? (?:\w+ ){0,2}"
                        r"costs?|recover\w* (?:\w+ ){0,4}(?:revenue|income|costs?|money|funds|value|tax|excess)|"
                        r"under-?regist\w+|under-?bill\w+|unbilled|unclaimed|uncollected|left on the table|"
                        r"missed (?:revenue|income|savings)|reclaim\w*|claim (?:back|a refund)|refund claim|"
                        # income the business is owed and has stopped collecting
                        r"no (?:[\w-]+ )?(?:income|revenue|payments?|receipts|rebates?) (?:has|have) been "
                        r"(?:received|claimed|collected|paid)|(?:has|have) not been (?:claimed|collected|invoiced|"
                        r"billed)|never (?:been )?(?:claimed|collected|invoiced|billed)|"
                        r"principal forgiveness|forgiv\w+|minimum guarantee|"
                        r"(?:below|less than|under) (?:the )?(?:delivered|list|current|market|contract|standard|"
                        r"on-demand|usual|retail|going|formula|permitted|allowed|maximum|target) (?:price|rate|cost|"
                        r"rent)|"
                        r"release (?:\w+ ){0,3}(?:cash|retainage|retention|funds|capital)|free up"),
    # ... and what was tried, worked and was stopped ("the pilot ended on 30 June", "the trial was not rolled out")
    ("opp.unused", 1.0, r"(?:pilot|trial)s? (?:\w+ ){0,3}(?:ended|stopped|was (?:dropped|stopped|ended|discontinued|"
                        r"not (?:extended|continued|rolled out|adopted)))|"
                        r"unused|idle|unallocated|spare (?!parts\b|wheels?\b|keys?\b)[a-z]+s\b|"
                        r"spare (?:capacity|stock|units?|space|slots?|hours|room)|surplus|"
                        r"excess (?:capacity|inventory|stock|space|water|power|heat|material)|under-?(?:used|"
                        r"utili[sz]ed)|sitting (?:idle|unused|empty)|vacant(?! (?:posts?|roles?|positions?|jobs?)\b)|"
                        r"empty (?:space|floor|slots?|units?|"
                        r"miles|legs?|running|return\w*|counter|room)|"
                        # kit put away ("held in storage since May"), not goods a customer stores with us
                        r"(?:kept|held|sitting|sits|placed|put|left|lying|lies|parked|still|been) in storage|"
                        r"not (?:being )?used|"
                        # a thing not needed stands idle; a check "not needed" (a notes cell) is waived, not idle
                        r"(?:is|are|was|were|be|been|currently|now) not (?:being )?needed|"
                        r"no bookings|nothing booked|no longer (?:needed|required|used)|"
                        r"(?:stands?|stood|sits?|sat|lies|lay) (?:empty|idle|unused)|"
                        r"utili[sz]ation:? (?:[1-9]|[1-4]\d)(?:\.\d+)?%|not in (?:routine |regular |active )?use|"
                        # a machine kept but making nothing, and a line's loading cell below half
                        r"not in (?:production|service)(?! until)|"
                        r"(?:loading|load factor|occupancy)(?: \([^)]{0,60}\))?: (?:[1-9]|[1-4]\d)(?:\.\d+)?%|"
                        # (not space freed for something: "To free space for the larger vintage, ... were moved")
                        r"mothballed|powered down|laid up|(?<!to )free (?:capacity|slots?|space)|"
                        # staff who want more work than they have: hours to spare ("nine practitioners have asked
                        # for additional hours")
                        r"(?:asked|asking|ask|asks|requested|requesting|want|wants|wanted) (?:\w+ ){0,2}?(?:for |to "
                        r"work )?(?:more|extra|additional) (?:hours|shifts)|(?:more|extra|additional) (?:hours|shifts) "
                        r"(?:asked for|requested|wanted)|"
                        # low utilisation ("runs at 31% of capacity", "used 41% of its available hours")
                        r"(?:runs?|ran|running|operat(?:es|ed|ing)|used|uses|booked|utili[sz](?:es|ed|ing)) "
                        r"(?:at )?(?:only "
                        r"|just |about |around |roughly )?(?:[1-9]|[1-5]\d)(?:\.\d+)?% of (?:its |their |the |our )?"
                        r"(?:\w+ ){0,2}(?:capacity|hours|time|slots)|utili[sz]ation (?:of |at |is |was )?(?:only |just "
                        r"|about |around )?(?:[1-9]|[1-5]\d)(?:\.\d+)?%"),
    ("opp.growth", 0.9, r"new (?:market|segment|channel)|untapped|upsell|cross-?sell|resell|"
                        r"win (?:back|new)|eligible|"
                        # people who bought once and stopped: a pool to win back ("1,140 lapsed customers"), and a
                        # trial of winning them back that worked ("rang 40 as a trial, 11 took out a plan")
                        rf"(?:lapsed|former|dormant|inactive) {_POOL}|(?:trial|pilot|test)\b[^.;]{{0,80}}\b\d+ "
                        r"(?:\w+ ){0,2}(?:took out|signed up|bought|booked|renewed|converted|rejoined|joined|ordered|"
                        r"subscribed|accepted|returned)\b|"
                        r"qualif(?:y|ies) for|opportunit(?:y|ies)|could (?:sell|offer|charge|earn|win|save|use|"
                        r"reuse|serve|add|rent|lease|license|licence|diverted|be (?:sold|diverted|reused|rented|"
                        r"let|leased|repurposed|redeployed|released|offered|repackaged|used|redirected))|"
                        r"would (?:add|lift|earn|bring|save|help|close|cover|recover|release|generate)|"
                        r"would cut (?:\w+ ){0,3}(?:costs?|spend\w*|bills?|waste|emissions|fees?|overheads?|"
                        r"hours|energy|fuel|time)|"
                        r"refurbish(?:ed|ing)?\b|recondition(?:ed|ing)?\b|repurpos\w*|(?:has |have )?offered (?:to|us)|"
                        r"lift\w* (?:\w+ ){0,3}by \d|co-?fund\w*|fully funded|at no (?:charge|cost)|free of charge"),
    # neutral, claim-bearing
    ("dependency", 0.5, r"depend(?:s|ent|ing)? on|reli(?:es|ant) on|rely on|relying on|sourced from|supplied by|"
                        r"exclusively|all (?:of )?(?:our|the) \w+ (?:come|use|run)|every \w+ (?:uses|runs|needs)|"
                        # (a place, not a level: "yield held at £2.91" stayed there)
                        r"operat(?:e|es|ed|ing) from|(?:based|located|housed|stored|kept|held) (?:at|in)(?! ?[$£€\d])|"
                        r"(?:produced|made|manufactured|cooked|packed|prepared|assembled|printed) (?:at|in|on) "
                        r"(?:our|the)\b|"
                        r"run(?:s)? (?:from|out of|on)|served by|powered by|hosted (?:on|by|at)|"
                        r"(?:handled|managed|maintained|run|done) by|"
                        # a contract that names the firm doing the work: "using our appointed installation
                        # subcontractor, X", "named in Schedule 4 as the approved installer"
                        r"using (?:our |the |an? |its )?(?:appointed|approved|nominated|sole|only|contracted) "
                        r"(?:[\w-]+ ){0,2}(?:subcontractor|contractor|supplier|installer|partner|provider|vendor|"
                        r"carrier|haulier|manufacturer)s?|named (?:in [\w .-]{1,20} )?as (?:the |our )?(?:approved|"
                        r"appointed|nominated|sole|only) \w+|"
                        # a licence or a contract that names the one person or role it rests on ("The appointed
                        # Radiation Protection Supervisor for Bramblecote is the Head of Diagnostic Imaging")
                        r"appointed (?:[\w-]+ ){1,4}(?:for [\w-]+ )?is (?:the |our )?|"
                        r"nominated (?:\w+ ){0,2}(?:manager|person|officer|holder|supervisor|engineer|contact|"
                        r"director|lead)|granted on condition|conditional on|"
                        # the person a statutory task rests on ("R717 authorised person: isolation ...", "Appointed
                        # person (lifting operations)")
                        r"(?:authori[sz]ed|appointed|competent|responsible) persons?\b|"
                        r"(?:needs|need|requires|require) (?:the|a|an|its|our|both) |in time for|drives? the|"
                        + RECEIVED_FROM),
    # paying someone outside for what the business might have in house: renting, hiring, referring out,
    # outsourcing, agency staff (one side of "we rent what we own idle")
    ("bought-in", 0.5, r"(?:rent(?:s|ed|ing)?|hir(?:e|es|ed|ing)|leas(?:ed|ing)|charter(?:s|ed|ing)?) (?:\w+ ){0,3}"
                       r"(?:from|externally|in from)|on (?:short-term |long-term )?(?:hire|rental) from|"
                       r"outsourc\w+|sen[dt]s? out|sent to (?:an? )?(?:outside|external|third[- ]party)|"
                       r"referr?(?:ed|als?|ing|s)? (?:\w+ ){0,3}(?:out|outside|elsewhere|externally|to (?:an? )?"
                       r"(?:outside|external|third[- ]party|other))|agency (?:staff|workers|nurses|drivers|labou?r|"
                       r"temps|cover)|third[- ]party (?:rentals?|hire|providers?|labs?|capacity|carriers?)|"
                       r"subcontract(?:s|ed|ing)? (?:\w+ ){0,3}to|external (?:lab(?:orator(?:y|ies))?s?|testing|"
                       r"venues?|trainers?|storage|couriers?|hauliers?|haulage|providers?)|venue (?:costs?|hire|fees?)|"
                       r"(?:room|plant|equipment|vehicle|van|storage|crane) (?:hire|rental)|couriers?|"
                       r"hotel (?:rooms?|nights?|stays?|accommodation|bills?|costs?)|b&b|bed and breakfast|"
                       r"serviced apartments?|"
                       # room rented elsewhere for what does not fit at home ("overflow chilled storage")
                       r"overflow (?:[\w-]+ ){0,2}(?:storage|space|capacity|warehous\w+|parking|pallets?)|"
                       # work carried to someone else's premises to be done there
                       r"(?:shuttled|sent|taken|shipped|trucked|transported|carried|delivered) to (?:their|its|"
                       r"an? (?:outside|external|partner|third[- ]party)|the (?:supplier|contractor|vendor)(?:'s|’s)"
                       r"?) (?:[\w-]+ )?(?:unit|site|works|plant|premises|facility|factory|lab(?:orator(?:y|ies))?s?"
                       r"|workshop)|"
                       r"sub-?contracted (?:[\w-]+ )?(?:work|services?|\w+ing)|"
                       r"sub-?contract (?:haulage|transport|deliveries|labou?r|work|services?|manufactur\w+)|"
                       # work done for the business on another firm's line ("Toll portioning"), and what a
                       # business calls bought in
                       r"toll (?:[\w-]+ )?(?:\w+ing|manufactur\w+)|bought[- ]in|"
                       # a supplier's row saying what it makes for the business ("What they make for us: ...")
                       r"(?:they|it) (?:make|makes|do|does|print|prints|mill|mills|build|builds|produce|produces|"
                       r"supply|supplies|finish|finishes) for us|"
                       r"(?:outside|external|partner|third[- ]party) (?:[\w-]+ )?(?:laborator(?:y|ies)|labs?|"
                       r"workshops?|finishers?|printers?|processors?|packers?|contractors?)"),
    ("stake", 0.0, r"[$£€]\s?[\d.,]+\s?(?:million|billion|[mk]n?\b|bn)?\s?(?:a year |per year |a month )?(?:of|in) "
                   r"(?:\w+ ){0,3}(?:business|revenue|sales|income|bookings|orders|billed revenue|contract value|"
                   r"spend|value)|(?:worth|valued at) (?:about |around |up to )?[$£€]|"
                   # the thousands of people a thing serves ("Those two POPs serve 31,400 premises")
                   r"(?:serv(?:e|es|ed|ing)|affect(?:s|ed|ing)?|cover(?:s|ing)?|reach(?:es|ing)?|supplies|supply|"
                   r"suppl(?:y|ies|ying)) (?:about |around |some |over |more than |nearly |almost )?\d{1,3}(?:,\d{3})+ "
                   r"(?:[\w-]+ ){0,2}(?:customers|premises|homes|users|patients|members|households|passengers|"
                   r"pupils|students|subscribers|clients|people|residents|accounts|properties|businesses)"),
    ("load", 0.0, r"demand|forecast\w*|peak\w*|expected (?:volume|orders|sales|load|intake)|projected|"
                  r"expan\w+|acquir\w+|took over|taking over|more (?:sites|stores|locations|branches|outlets)|"
                  # (not a product's class: "a large-volume pump")
                  r"maximum day|intake|(?<!-)volumes?(?!-)|throughput (?:needed|required)|orders? (?:of|for) \d|"
                  # work won or ordered, counted in what the business makes
                  r"won (?:in|against|from)|(?:contract|order|job) value|(?:initial |first |new |firm )?orders? "
                  r"(?:is|are|was|were) (?:for )?(?:about |around |some )?\d|the (?:job|order|contract) is\b"),
    ("capacity", 0.4, r"capacity|throughput|per (?:week|day|shift|hour|month|year)|a (?:week|day|month|year)|"
                      r"up to \d|at most|limit(?:ed|s)?|utili[sz]ation|headcount|slots?|headroom|rated"),
    ("obligation", 0.5, r"must|shall|required|requires?|requirement\w*|obligat\w+|contract\w*|agreements?|"
                        r"(?:is|are|falls?|becomes?|comes?) due|"
                        r"clauses?|sla|service level|commit(?:ted|ment)s?|guarantee\w*|warrant(?:y|ies)|"
                        r"notice period|deadline|due (?:by|on|in)|no later than|by law|regulat\w+|mandat\w+|"
                        r"entitled to|covenant\w*|"
                        # a maker's or regulator's instruction: "Broadwell instructs owners to remove affected
                        # trailers from loading duties"
                        r"instruct(?:s|ed|ions?)? (?:[\w-]+ ){0,3}to|prohibit\w*|forbid\w*|before (?:any )?further "
                        r"use"),
    ("change", 0.4, r"will|plans? to|planned|scheduled|moving|moves? (?:to|into)|switch\w*|migrat\w+|replac\w+|"
                    r"upgrad\w+|starting|from \S+ to \S+|effective|begin\w*|launch\w*|introduc\w+|new"),
    ("deadline", 0.5, rf"(?:by|before|no later than|until|deadline(?: of| is)?|due(?: on| by)?|closes? on|"
                      rf"expires? on|lapses? on|ends? on) (?:the )?(?:{_DAY_MONTH})|deadline|"
                      r"must be (?:signed|filed|submitted|requested|returned|paid|renewed|claimed|committed|"
                      r"spent|registered|sent|made)|registration closes|window closes|closes (?:on|in|between)"),
    # nobody acting on it: makes whatever it is more urgent, risk or opportunity alike
    ("gap", 0.8, r"not in the (?:[\w-]+ ){0,2}(?:plan|roadmap|budget|program|programme)|"
                 r"no (?:owner|plan|fix|corrective action|capa|workaround|budget|funding|decision|one has|"
                 r"response|answer|claims?|date)|unassigned|"
                 # "no action has been taken", not "noted, no action under policy" (a verdict: nothing to do)
                 r"no action(?! (?:is |was )?(?:needed|required|necessary|under (?:the |our )?polic(?:y|ies)))|"
                 # "no one has been assigned", but not "no one was hurt" (that is good news)
                 r"(?:nobody|no one)(?! (?:was|were|has been|had been) (?:hurt|injured|harmed|killed|affected))|"
                 r"not (?:yet )?(?:been )?"
                 r"(?:addressed|fixed|raised|escalated|reported|budgeted|funded|scheduled|signed|requested|filed|"
                 r"claimed|assigned|owned|submitted|approved|started|ordered|booked|renewed|extended|decided|"
                 r"configured|registered|included|covered|updated|told|informed|notified|reproduced|allocated|"
                 r"investigated|diagnosed|tested|agreed|lodged|actioned|implemented|progressed)|"
                 r"(?:did|has|have|had) not (?:yet )?(?:assign|sign|request|file|claim|submit|approve|respond|"
                 r"reply|ask|apply|bid|tender|book|order|start|contact|"
                 r"decide|register|include|tell|inform|notify)\w*|never (?:been )?(?:received|configured|"
                 r"registered|claimed|filed|submitted|signed|checked|tested|reviewed|updated|renewed|covered|"
                 r"included|told|lodged|actioned|implemented|progressed)|unresolved|still open|remains open|"
                 r"deferred|on hold|no response|parked|"
                 r"(?:still )?to be (?:scheduled|arranged|booked)|"
                 r"holding reply|no date (?:has been|was) given|nobody noticed|(?:is|was|were) not (?:flagged|"
                 r"picked up|tracked|recorded)|no follow-?ups?\b(?! (?:is|was) (?:needed|required))|"
                 r"(?:never |not (?:yet )?(?:been )?)followed up|"
                 # a duty nobody carries out: "none has been sent", "it has no function to generate the notice",
                 # "no interim manual process is in place"
                 r"none (?:has|have) (?:ever )?been (?:sent|issued|received|done|made|carried out|given|filed|"
                 r"tested|checked)|never (?:been )?(?:sent|issued|carried out)|"
                 r"(?:has|have|had) no (?:function|way|means|facility|ability|capability) to|"
                 r"not (?:in|part of) (?:the |our )?standard (?:\w+ )?(?:script|process|offer|range|menu|"
                 r"procedure|price list|catalogue)|"
                 r"no (?:copy|copies|record|records|evidence|documentation|proof)\b[^.;]{0,60}?(?:has|have|is|are|was|"
                 r"were) (?:been )?(?:kept|held|retained|filed|on file)|"
                 r"no (?:interim |manual |alternative |compensating |backup )*(?:process|procedure|control|"
                 r"workaround|check)s? (?:is |are )?in place"),
    # about someone else: another company's recall, an industry-wide figure
    ("external", 1.0, r"(?:a|an|another|one|other) (?:[\w-]+ ){0,3}(?:manufacturers?|compan(?:y|ies)|firms?|"
                      r"makers?|suppliers?|vendors?|providers?|operators?|utilit(?:y|ies)|retailers?|"
                      r"competitors?|businesses|organi[sz]ations?|universit(?:y|ies)|hospitals?|airlines?|"
                      r"carriers?|studios?|contractors?|chains?|systems?|brands?) (?:in|of|based|elsewhere|that|"
                      r"which|who)|in another (?:state|country|region)|industry-wide|across the industry|"
                      r"nationwide|sector-wide|unrelated|not (?:a |one )?of ours"),
    # dampeners: resolved, rehearsed, not ours
    ("benign", 1.0, r"resolved|(?:judgments?|ccjs?|debts?)\b[^.;]{0,30}\b(?:satisfied|set aside|discharged)|"
                    # a claim or case settled: paid and done ("Operative hand injury (settled)")
                    r"(?<=\()(?:settled|closed)(?=\))|"
                    r"(?:claims?|cases?|disputes?) (?:was |were |has been |now )?settled|"
                    # a reading put right and the stock it touched checked ("reset, stock checked")
                    r"(?:(?:was|were|been|and|then) |[;,] ?)reset\b(?! (?:the )?(?:target|baseline|date|"
                    r"expectations?))|"
                    r"stock (?:was |were )?checked|within (?:the )?manufacturer'?s? (?:guidance|limits?)|"
                    r"(?:was|were|been|is|are|now|and|already|quickly|since) (?:fixed|repaired|"
                    r"remediated|corrected|restored|replaced)|fixed (?:on|in|by|within|the same|fleet-wide)|"
                    r"remediated|closed out|(?:was|were|has been|have been|is|are|now) closed|"
                    r"recovered (?:fully|in full|completely)|fully recovered|back to normal|"
                    # a case closed in a past year ("warning letter ... closed in 2020"), not a café that closed
                    r"(?:letters?|cases?|findings?|actions?|complaints?|incidents?|tickets?|investigations?|"
                    r"warnings?|notices?|audits?|claims?|quer(?:y|ies)|disputes?)\b[^.;]{0,70}"
                    r"(?<!be )(?<!to )closed (?:in|on) (?:[\w ]{0,12})?(?:19|20)\d\d|"
                    r"(?:case|finding|findings|incident|ticket|action|actions|review|investigation|audit|"
                    r"report) (?:is |was |were |are |has been |have been |now )?(?:closed|complete[d]?)|"
                    r"completed(?!\s*:)|contained|restored|(?:removed|lifted|cleared|rectified) (?:on )?(?:the )?"
                    r"same day|no (?:impact|injur\w+|damage|loss|data (?:was )?(?:lost|"
                    r"exposed|taken)|customer impact|further action|release)|"
                    # a rehearsal, not a drill that bores a hole ("an under-track directional drill, 42m")
                    r"(?<!directional )(?<!horizontal )(?<!rock )(?<!core )drills?(?! rigs?\b| bits?\b)|exercises?|"
                    r"simulat\w+|tabletop|mock (?:recall|evacuation|drill|exercise|attack)|false alarm|as planned|"
                    r"as expected|"
                    r"(?:does|did) not (?:apply|affect)|not affected|unaffected|no action (?:is |was )?(?:needed|"
                    r"required|necessary|under (?:the |our )?polic(?:y|ies))|cleared|lifted|"
                    r"test(?:ed)? (?:successfully|without)|root cause (?:was )?"
                    r"(?:found|identified|fixed)|we do not (?:sell|use|stock|carry|buy|make)|"
                    r"(?:does|do) not (?:sell|use|stock|carry|buy|make)|not (?:a )?(?:product|supplier|customer) "
                    r"of ours|(?:action|impact|exposure|affected|applies to us\??)\s*(?:required|needed)?\s*:\s*"
                    r"(?:none|no)\b|lessons learned|after-action|post-incident|withdrawn in full|"
                    r"passed (?:on )?(?:resubmission|re-?inspection|re-?test|re-?audit)|re-?rated|"
                    r"(?:no action|information only|not applicable|for information)(?=\W*$)|"
                    r"not our (?:product|supplier|customer|site|system|model|brand)|"
                    r"fix(?:es|ed)? (?:\w+ ){0,4}(?:defects?|bugs?|faults?|issues?|errors?)|"
                    # paperwork done: a request or form sent on ("The shutdown request has been submitted to
                    # Facilities"), news of a process, not of the outage or demand it names
                    r"\b(?:requests?|forms?|applications?|tickets?)\b(?! for)[^.;]{0,40}?\b(?:has|have|was|were) "
                    r"(?:now |already )?(?:been )?(?:sent|submitted|logged|lodged|filed|forwarded|emailed)\b"),
    ("assurance", 1.0, r"within (?:target|tolerance|limits?|budget|spec|terms)|on (?:track|target|schedule|budget)|"
                       r"(?:paying|pays|paid) (?:to|within|on) terms|"
                       # what customers are told cover gives them ("belongings are fully insured from the moment ...")
                       r"(?:fully|comprehensively|always) (?:insured|covered)\b|"
                       # what customers or staff are told is safe ("the range is sesame-free", "Customer
                       # reassurance:")
                       r"(?:is|are) (?:all |entirely |completely |guaranteed )?[a-z]+-free\b|"
                       r"(?:customer|staff) reassurance\s*:|"
                       r"(?:assessed|judged|deemed|classified|found|attributed) (?:as |to be |to )?(?:not reportable|"
                       r"user error|operator error|human error|isolated|not significant|low risk|acceptable)|"
                       r"no trend (?:was )?(?:identified|found|seen)|"
                       r"(?:earned|saved|achieved|realised|realized|received|collected|settled) (?:\w+ ){0,3}"
                       r"(?:savings?|discounts?|rebates?|income|in full)|(?:savings?|discounts?|rebates?) "
                       r"(?:earned|achieved|realised|realized|received|collected) (?:were|was|of|in)|"
                       r"no (?:open|known|outstanding|significant|material|major) \w+|no \w+ (?:issues?|risks?|"
                       r"concerns?)|all \w+ (?:passed|met|closed|compliant)|fully (?:compliant|staffed|stocked)|"
                       r"ahead of (?:plan|schedule|target)|above (?:plan|target|budget)|healthy|stable|"
                       r"under control|no complaints|beat (?:the|its|our) target|met (?:the|its|all|our) "
                       r"(?:target|objectives?)|in (?:good|sound|satisfactory) (?:condition|order|repair|working "
                       r"order|health)|(?:good|sound|satisfactory) condition|"
                       r"(?:days?|weeks?|months?|years?) without (?:a |an |any )?(?:[\w-]+\s)?(?:injur\w+|incidents?|"
                       r"accidents?|failures?|outages?|breaches?)|without (?:any )?(?:injur\w+|incidents?|"
                       r"accidents?)"),
)

# an insurance document, section or sentence, and a clause of it that excludes or conditions cover ("Exclusion:",
# "not covered", "cover does not extend to", "condition precedent", "warranted", "restricted to", "unless")
INSURANCE = re.compile(r"\b(?:insur(?:ance|ed|er|ers)|underwrit\w*|reinsur\w*|endorsements?|"
                       r"policy (?:schedule|wording|conditions?|exclusions?)|schedule of cover|"
                       r"(?:public|employers'?|product|motor|property|"
                       r"liability|marine|fleet) (?:liability )?(?:cover|policy))\b")
EXCLUDES = re.compile(r"\b(?:exclu(?:ded|des|sions?)|not (?:be )?covered|no cover|uninsured|not (?:be )?insured|"
                      r"not be liable|cover (?:does|will|shall) not|covered only|only covered|restricted to|"
                      r"limited to|other than)\b")
# a condition that only sets what cover asks for ("plant to be maintained", "notify insurers"): a practice falls foul
# of it only past a limit it sets ("unoccupied for more than 45 consecutive days")
CONDITIONS = re.compile(r"\b(?:conditions? (?:precedent|\d+)|warrant(?:ed|y)|provided that|unless|subject to|"
                        r"notify (?:the )?insurers?)\b")

# Patterns whose match means the *opposite* when negated just before ("not resolved", "cannot be recovered").
# the words that set a bound on a figure, for a register row's bound cell and a covenant's level alike
FLOOR_WORDS = r"not less than|no less than|at least|minimum|min\.?|floor|level required|required level|" \
              r"must (?:reach|be at least|exceed)"
CEILING_WORDS = r"not more than|no more than|at most|maximum|max\.?|not to exceed|must not exceed|limit|cap|ceiling"
NEGATED = re.compile(r"\b(?:not|never|cannot|can't|no longer|yet to be)\W+(?:\w+\W+){0,2}$|"
                     r"\b(?:if|when|whenever|once|unless|until|before)\W+(?:[\w-]+\W+){0,5}$")

# A metric that is bad when it rises (costs, defects, complaints) or good when it rises (sales, margin): whether a
# rise or a fall is a risk, or good news that needs no action.
BAD_METRIC = re.compile(r"\b(?:costs?|spend(?:ing)?|waste|scrap|defects?|rejects?|complaints?|tickets?|errors?|"
                        r"incidents?|injur\w+|accidents?|churn|turnover|leavers|absence|sickness|downtime|losses|"
                        r"backlog|overtime|debt|arrears|days to pay|debtor days|lead times?|latency|delays?|"
                        r"returns|refunds|failures?|outages?|vacanc\w+|shrink\w*|markdowns?|premiums?|invoice|bill|"
                        r"burn|claims?|estimates?|write-?offs?|cancell?ations?|disputes?|chargebacks?|queries|"
                        r"(?:contamination|penalty|late|excess|overage|bank|disposal|landfill|demurrage|detention|"
                        r"storage|callout|call-out) (?:charges?|fees?)|surcharges?)\b")
GOOD_METRIC = re.compile(r"\b(?:revenue|sales|margins?|profits?|income|bookings|orders|volumes?|market share|pipeline|"
                         r"share|utili[sz]ation|nps|satisfaction|retention|cash|runway|yield|throughput|"
                         r"uptime|availability|attendance|conversion|wishlists?|installs|members|membership|"
                         r"subscribers|users|visits|footfall|occupancy|score|rating|accuracy|coverage|savings|"
                         r"enquiries|inquiries|leads|referrals)\b")


# kinds of resource a business either owns or buys in, so that one team's rented or hired thing meets another
# team's idle thing of the same kind although the two documents name it differently ("a training room hired from a
# business centre" and "the Kirkby Room used 6% of its hours"; "a chilled courier" and "a refrigerated van").
# Generic business vocabulary; nothing about any one company.
RESOURCES: tuple[tuple[str, str], ...] = (
    ("space", r"rooms?|space|suites?|venues?|halls?|classrooms?|conference (?:centre|center)|hot desks?|"
              r"warehous\w*|yards?|depots?|hangars?|bays?|premises|studios?|kitchens?|"
              r"accommodation|apartments?|homes|flats|dwellings|houses|storage|pallet (?:positions|spaces)"),
    ("vehicle", r"vans?|trucks?|lorr(?:y|ies)|tankers?|couriers?|haulage|hauliers?|carriers?|vehicles?|minibus\w*|"
                r"coaches|buses|trailers?|fleet|forklifts?|cars?"),
    ("machine", r"excavators?|cranes?|loaders?|dozers?|diggers?|generators?|gensets?|compressors?|presses|machines?|"
                r"ovens?|boilers?|chillers?|plant hire|equipment|rigs?|hoists?|mewps?|cherry pickers?|telehandlers?|"
                r"dumpers?|access platforms?|printers?|printed|printing|milling machines?|lathes?|cnc|kilns?|"
                # cutting and forming kit, and the work it does when bought in ("Toll portioning")
                r"(?:die-?)?cutters?|slicers?|saws?|guillotines?|sealers?|extruders?|mixers?|robots?|"
                r"(?:die-?)?cutting|die-?cut|portioning|slicing|machining|moulding|molding|laminating|filleting|welding"),
    ("lab", r"lab(?:orator(?:y|ies))?s?|tests?|testing|assays?|analys[ie]s|analy[sz]ers?|instruments?|"
            r"chromatograph\w*|hplc|spectromet\w*|scanners?|imaging|scans?|x-rays?"),
    ("people", r"agency (?:staff|workers|nurses|drivers|temps)|contractors?|temps|temporary staff|interims?|"
               r"locums?|freelancers?|consultants?|trainers?"),
)
_RESOURCE_RX = tuple((kind, re.compile(rf"\b(?:{p})\b")) for kind, p in RESOURCES)


def resources(low: str) -> frozenset[str]:
    """The kinds of resource (:data:`RESOURCES`) a lower-cased sentence names."""
    return frozenset(kind for kind, rx in _RESOURCE_RX if rx.search(low))


# -- a cheap test of which cues can match at all ------------------------------------------------------------------

_PREFIX = 4


def triggers(pattern: str) -> frozenset[str] | None:
    """The beginnings (up to four letters) of the words any match of ``pattern`` starts with, or ``None`` when a
    match may start with anything (a digit class, a currency sign). A sentence none of whose words begins with one
    of them cannot match, so the pattern need not be run."""
    out = _first(list(_parser.parse(pattern)), 0, "")
    return None if out is None else frozenset(out)


def word_starts(low: str) -> set[str]:
    """Every beginning (one to four letters) of every word of a lower-cased text, and after a short function word
    the beginning of the next word too ("at c" for "at capacity")."""
    words = _TOKEN.findall(low)
    out = {w[:k] for w in words for k in range(1, min(_PREFIX, len(w)) + 1)}
    out.update(f"{a} {b[:k]}" for a, b in itertools.pairwise(words) if a in _FUNCTION
               for k in range(1, min(3, len(b)) + 1))
    return out


# a first word this common says little: a trigger goes on to the next word's beginning
_FUNCTION = frozenset(("a", "an", "at", "in", "on", "no", "not", "the", "is", "are", "was", "were", "be", "been",
                       "has", "have", "had", "did", "as", "by", "of", "to", "up", "all", "and", "can", "due", "per",
                       "new", "one", "out", "our", "its", "it", "or", "if", "for", "from", "with", "will", "would",
                       "could"))


_TOKEN = re.compile(r"[a-z0-9]+")


def _first(items: list[Any], i: int, acc: str) -> set[str] | None:
    while i < len(items):
        op, av = items[i]
        if op is _c.LITERAL:
            ch = chr(av)
            if ch == " " and acc in _FUNCTION:
                acc += " "
                i += 1
                continue
            if not ch.isalnum():
                return {acc.rstrip()} if acc.strip() else None
            acc += ch
            head, _, tail = acc.partition(" ")
            if (len(tail) >= 3) if tail else (len(head) >= _PREFIX):
                return {acc}
            i += 1
        elif op is _c.AT:
            i += 1
        elif op is _c.SUBPATTERN:
            return _first(list(av[-1]) + items[i + 1:], 0, acc)
        elif op is _c.BRANCH:
            out: set[str] = set()
            for seq in av[1]:
                got = _first(list(seq) + items[i + 1:], 0, acc)
                if got is None:
                    return None
                out |= got
            return out
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, _, seq = av
            once = _first(list(seq) + items[i + 1:], 0, acc)
            if low:
                return once
            skip = _first(items, i + 1, acc)
            return None if once is None or skip is None else once | skip
        else:
            return {acc.rstrip()} if acc.strip() else None
    return {acc.rstrip()} if acc.strip() else None
