-- An intent entry may carry a listening query: items it matches get the intent.
ALTER TABLE dictionary_entries ADD COLUMN query TEXT;
