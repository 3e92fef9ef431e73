# Rules, recommendation cards and decisions arrive with the guidance issue.
