"""Page shaping without requests, one module a screen: patients (the list and the patient
page), assessments (the assessment page and its cards), rules (the rule pages), history
(what changed, in words). Views fetch; these arrange. Only card_page queries (see its
module); the rest shape records already loaded. The assessment form's live panel is
clinic.panel."""
