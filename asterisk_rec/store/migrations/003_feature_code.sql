-- The feature code an organisation's on-demand users dial during a call to switch recording on and off.
ALTER TABLE organisations ADD COLUMN feature_code text NOT NULL DEFAULT '*1'
    CHECK (feature_code ~ '^[0-9*#A-D]{1,8}$');
